"""The client's words in German: the catalogs cover every message in the code, are complete and compiled
from their sources; the language follows the host's choice, else the system's; the registry words the
categories in German; the CLI and the agent speak German when asked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from optin.client import HelpMenu, _menu as menu_words
from optin.client._i18n import LOCALE_DIR, available_languages, language_code, system_language, translations
from optin.contract import Registry, RegistryError, parse_registry

from .agent_child import AgentChild, hello
from .conftest import make_feedback

CLIENT = Path(__file__).resolve().parents[2] / "client"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "_n": (1, 2)}  # as tasks.py catalogs
PLACEHOLDER = re.compile(r"\{[^}]*\}")


def source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(CLIENT), keywords=KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def entries(catalog: Catalog) -> dict[object, object]:
    """Message id → translation, plural forms as tuples (read_po and read_mo differ in list or tuple)."""

    def plain(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {plain(m.id): plain(m.string) for m in catalog if m.id}


def german() -> Path:
    return LOCALE_DIR / "de" / "LC_MESSAGES" / "optin.po"


def test_the_german_catalog_holds_every_message_of_the_code_translated_and_compiled() -> None:
    with german().open("rb") as f:
        catalog = read_po(f)
    in_code = source_messages()
    assert len(in_code) > 40
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}
    assert ids == in_code  # nothing missing, nothing left over
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        singular = str(message.id[0] if isinstance(message.id, tuple | list) else message.id)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in map(str, strings):
            assert text and text != singular, f"untranslated: {singular!r}"
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(singular)), (
                f"placeholders differ: {singular!r} → {text!r}"
            )
    with german().with_suffix(".mo").open("rb") as f:
        compiled = read_mo(f)
    assert entries(compiled) == entries(catalog), (
        "optin.mo is not compiled from optin.po: run `python3 tasks.py catalogs`"
    )
    assert available_languages() == ["en", "de"]


def test_every_word_of_the_menu_model_has_its_german_form() -> None:
    words = [v for k, v in vars(menu_words).items() if k.isupper() and isinstance(v, str)]
    assert len(words) > 20
    german_words = translations("de")
    for word in words:
        assert german_words.gettext(word) != word, word


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("de_DE.UTF-8", "de"),
        ("de-AT", "de"),
        ("German_Germany.1252", "de"),
        ("en_US", "en"),
        ("C.UTF-8", None),
        ("POSIX", None),
        ("", None),
        (None, None),
    ],
)
def test_language_tags_are_reduced_to_the_language(tag: str | None, code: str | None) -> None:
    assert language_code(tag) == code


def test_the_language_is_the_hosts_choice_else_the_systems(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert system_language({"LANGUAGE": "de_CH:en", "LANG": "en_US.UTF-8"}) == "de"
    assert system_language({"LC_ALL": "", "LC_MESSAGES": "de_DE", "LANG": "en_US"}) == "de"
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock=None)  # type: ignore[arg-type]
    monkeypatch.setenv("LANGUAGE", "de")
    assert HelpMenu(feedback).item().label == "Kundenfeedback-Programm: Aus"  # the system's
    assert HelpMenu(feedback, language="en").item().label == "Customer Feedback Program: Off"  # the host's choice wins
    assert HelpMenu(feedback, language="fr").item().label == "Customer Feedback Program: Off"  # none shipped: English
    monkeypatch.setenv("LANGUAGE", "en")
    assert HelpMenu(feedback, language="de").item().label == "Kundenfeedback-Programm: Aus"
    feedback.close(0)


def test_the_registry_words_its_categories_in_german_and_the_english_stays_the_reference(
    tmp_path: Path, registry: Registry
) -> None:
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock=None)  # type: ignore[arg-type]
    shown = HelpMenu(feedback, language="de").ask_paragraphs("Millwright")
    for category in registry.categories.values():
        title, description = category.in_language("de")
        assert (title, description) in shown and title != category.title and description != category.description
        assert (category.title, category.description) not in shown
    assert "Hilfe → Kundenfeedback-Programm" in shown[-1][1] and "Millwright" in shown[0][1]
    feedback.close(0)


BASE = """schema = 1
app = "tiny"
version = 1
app_versions = ["1.0"]
[categories.usage]
title = "Usage"
description = "Counts."
{extra}
[metrics."a.b"]
kind = "counter"
category = "usage"
description = "A count."
"""


def test_registry_translations_are_checked_like_the_rest_of_the_registry() -> None:
    good = parse_registry(BASE.format(extra='[categories.usage.translations.de]\ntitle = "N"\ndescription = "Z."'))
    plain = parse_registry(BASE.format(extra=""))
    assert good.categories["usage"].in_language("de") == ("N", "Z.") and good.hash == plain.hash
    for extra, why in [
        ('[categories.usage.translations.German]\ntitle = "N"\ndescription = "Z."', "language code"),
        ('[categories.usage.translations.de]\ntitle = "N"', "exactly 'title' and 'description'"),
        ('[categories.usage.translations.de]\ntitle = "N"\ndescription = "Z."\nnote = "x"', "exactly"),
        ('[categories.usage.translations.de]\ntitle = ""\ndescription = "Z."', "non-empty 'title'"),
        ("[categories.usage.colour]\nx = 1", "unknown keys: colour"),
    ]:
        with pytest.raises(RegistryError, match=why):
            parse_registry(BASE.format(extra=extra))


def test_the_cli_speaks_the_systems_language(tmp_path: Path) -> None:
    def optin(*args: str) -> str:
        env = {**os.environ, "LANGUAGE": "de"}
        cmd = [sys.executable, "-m", "optin.client", "--root", str(tmp_path), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=True).stdout

    assert "Kundenfeedback-Programm für millwright: aus (nicht entschieden)" in optin("status")
    enabled = optin("enable")
    assert enabled.strip().splitlines()[-1] == "Kundenfeedback-Programm: ein"
    assert "Niemals gesendet" in enabled and "Grundlegende Systeminformationen" in enabled  # what is, is not sent
    assert "Von diesem Computer wurde nichts gesendet." in optin("history")


def test_the_agent_returns_every_word_in_the_hosts_language(tmp_path: Path) -> None:
    agent = AgentChild()
    assert agent.request("hello", **hello(tmp_path, "http://127.0.0.1:9", language="de"))["ok"]
    menu = agent.request("menu")["result"]
    assert menu["label"] == "Kundenfeedback-Programm: Aus"
    assert [a["label"] for a in menu["actions"]] == ["Was gesendet wird…", "Gesendete Daten anzeigen…"]
    ask = agent.request("ask")["result"]
    assert (ask["yes"], ask["no"], ask["never"]) == ("Ja, teilnehmen", "Nein, danke", "Künftig nicht mehr fragen")
    assert ask["paragraphs"][1]["title"] == "Grundlegende Systeminformationen"
    assert agent.request("history")["result"]["readable"] == "Von diesem Computer wurde nichts gesendet."
    assert agent.end() == 0
