"""The client's words in the user's language: gettext catalogs under ``locale/`` (domain ``optin``).

English is the source language (the msgids); German ships complete. The language is the host
application's choice when it names one, else the system's (``LANGUAGE``, ``LC_ALL``,
``LC_MESSAGES``, ``LANG``, then the locale module). Catalogs are extracted and compiled with
Babel (`python3 tasks.py catalogs`); the compiled ``.mo`` files ship with the package.

Importing this module imports neither gettext nor locale: `N_` only marks a message for
extraction, and the catalogs are read when a dialog first needs a word.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from ._light import N_ as N_  # defined there so that the start-up path marks its messages without this module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from gettext import NullTranslations
    from typing import Final

DOMAIN: Final = "optin"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
SOURCE_LANGUAGE: Final = "en"
_ENVIRONMENT: Final = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")  # the order gettext itself reads them in


def language_code(tag: str | None) -> str | None:
    """``de_DE.UTF-8``, ``de-AT`` or ``German_Germany`` → ``de``; None for ``C``, ``POSIX`` or nothing."""
    if not tag:
        return None
    head = tag.replace("-", "_").replace(".", "_").replace("@", "_").split("_")[0].lower()
    if head == "german":  # Windows' locale names
        return "de"
    if head == "english":
        return "en"
    return head if 2 <= len(head) <= 3 and head.isalpha() else None


def system_language(environ: Mapping[str, str] | None = None) -> str | None:
    """The user's interface language as the system states it."""
    env = os.environ if environ is None else environ
    for name in _ENVIRONMENT:
        code = language_code(env.get(name, "").split(":")[0])
        if code:
            return code
    import locale

    try:
        return language_code(locale.getlocale()[0])
    except ValueError:
        return None


def translations(language: str | None) -> NullTranslations:
    """The catalog for ``language`` (None: the system's); English, the source, where none ships."""
    return _catalog(language_code(language) if language else system_language())


@cache
def _catalog(code: str | None) -> NullTranslations:
    import gettext

    if code is None or code == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)


def available_languages() -> list[str]:
    """English and every language with a compiled catalog."""
    shipped = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
    return [SOURCE_LANGUAGE, *shipped]
