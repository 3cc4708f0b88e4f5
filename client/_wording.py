"""The application's own words in the dialogs: what is never sent, the privacy policy, a contact.

Category titles and descriptions are the registry's; these few sentences are the application's,
because only the vendor knows what its users' work is ("your models", "your drawings", "your
recordings"). They come from the application's configuration (`Wording.from_toml`), the example
below is Millwright's, and they are part of what the user agrees to: `wording_hash` covers them
together with the client's own sentences (`WORDING_VERSION`) and the categories' descriptions.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from ._i18n import N_
from ._light import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, Final

    from optin.contract import Registry

# The version of the client's own sentences in the ask and turn-on dialogs; raise it when they change
# in meaning, so that a user who agreed to the old words is shown the new ones once (AskPolicy).
WORDING_VERSION: Final = 1
EXAMPLE_NEVER_SENT: Final = N_(
    "Never sent: your models or anything that could re-create them (geometry, dimensions, names, "
    "file names or paths), your user or computer name, or your network address."
)
KEYS: Final = ("never_sent", "privacy_policy", "contact")
MAX_CHARS: Final = 600  # a paragraph a person reads in a dialog, not a document


class Wording(NamedTuple):
    """The application's sentences in the dialogs (see the module docstring)."""

    never_sent: str = EXAMPLE_NEVER_SENT  # one paragraph: what is never sent, in the application's terms
    privacy_policy: str = ""  # a line naming the vendor's privacy policy, e.g. its address
    contact: str = ""  # whom to ask about the program, e.g. an e-mail address

    @classmethod
    def from_toml(cls, source: str | Path) -> Wording:
        """Read the ``[feedback]`` table of the application's configuration (a TOML file or its text).

        Unknown keys, non-text values and empty or overlong paragraphs raise ValueError naming the key.
        """
        import tomllib

        text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
        where = source.name if isinstance(source, Path) else "wording"
        try:
            table: Any = tomllib.loads(text).get("feedback", {})
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{where}: not valid TOML ({error})") from None
        if not isinstance(table, dict):
            raise ValueError(f"{where}: [feedback] must be a table")
        unknown = sorted(set(table) - set(KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) in [feedback]: {', '.join(unknown)} (known: {', '.join(KEYS)})")
        for key, value in table.items():
            if not isinstance(value, str) or len(value) > MAX_CHARS or (key == "never_sent" and not value.strip()):
                raise ValueError(f"{where}: feedback.{key} must be a text of 1 to {MAX_CHARS} characters")
        return cls(**{key: " ".join(value.split()) for key, value in table.items()})

    def digest(self, registry: Registry, categories: Iterable[str]) -> str:
        """What the user agreed to: the client's sentences (by version), these, and the categories' words."""
        import hashlib  # only when the user agrees or the app asks: not on the start-up path

        chosen = sorted(set(categories) & set(registry.categories))
        doc = [
            WORDING_VERSION,
            list(self),
            [[c, registry.categories[c].title, registry.categories[c].description] for c in chosen],
        ]
        return hashlib.sha256(orjson.dumps(doc)).hexdigest()
