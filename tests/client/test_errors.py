"""Errors that help the embedding developer (issue 14 item 8): a registry named for another app, a
missing registry, an unknown app, a folder that cannot be written, an undeclared app version. Each is
a clear sentence, counted in `Feedback.problems` and logged as a warning, never a traceback into the
host and never a silent no-op; no message names a folder path. `RegistryFile` reads package resources."""

from __future__ import annotations

import inspect
import logging
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest

from optin.client import AppPaths, Feedback, FeedbackOptions, ManualClock
from optin.contract import Registry, RegistryError, RegistryFile, bundled_registry_file

from .conftest import make_feedback

ROOT = Path(__file__).resolve().parents[2]


def millwright_text() -> str:
    return files("optin.contract.registries").joinpath("millwright.toml").read_text(encoding="utf-8")


def feedback_for(registry: RegistryFile, root: Path, clock: ManualClock) -> Feedback:
    options = FeedbackOptions(paths=AppPaths.under(root), clock=clock, facts=dict, environ={})
    return Feedback(registry, app_version="2025.3.0", endpoint="http://127.0.0.1:9", options=options)


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "optin.client" and r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("surveyor.toml", "millwright", "declares app 'millwright' but is named for 'surveyor'; rename the file"),
        ("ghost.toml", None, "ghost.toml: no such registry file (the registry of 'ghost')"),
        ("broken.toml", "[app\n", "broken.toml: "),
    ],
)
def test_a_registry_that_cannot_be_used_is_a_clear_counted_logged_problem_not_a_traceback(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture, name: str, content: str | None, says: str
) -> None:
    folder = tmp_path / "secret-user-folder"
    folder.mkdir()
    if content == "millwright":
        (folder / name).write_text(millwright_text())
    elif content is not None:
        (folder / name).write_text(content)
    caplog.set_level(logging.WARNING, logger="optin.client")
    feedback = feedback_for(RegistryFile(folder / name), tmp_path / "app", clock)
    assert not feedback.turn_on()  # refused, with the reason, not silently
    assert feedback.problems.counts == {"registry": 1}
    assert feedback.problems.last is not None and says in feedback.problems.last
    assert [says in message for message in logged(caplog)] == [True]
    assert feedback.check() and says in feedback.check()[0]
    assert not any("secret-user-folder" in message for message in logged(caplog))  # no path in any log line
    with pytest.raises(RegistryError, match=re.escape(says)):
        RegistryFile(folder / name).load()  # the same sentence for a developer who loads it directly


def test_an_unknown_app_is_named_and_the_cli_says_what_to_do(tmp_path: Path, clock: ManualClock) -> None:
    feedback = feedback_for(bundled_registry_file("nosuchapp"), tmp_path / "app", clock)
    assert not feedback.turn_on()
    assert feedback.problems.last == (
        "the registry of 'nosuchapp' cannot be used: nosuchapp.toml: no such registry file (the registry of 'nosuchapp')"
    )
    cli = shutil.which("optin", path=str(Path(sys.executable).parent))
    assert cli is not None
    done = subprocess.run(
        [cli, "--app", "nosuchapp", "--data-dir", str(tmp_path / "cli"), "status"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "nosuchapp.toml: no such registry file" in done.stderr and "--registry FILE" in done.stderr


def test_an_undeclared_app_version_is_a_problem_the_developer_is_told_about(
    tmp_path: Path, registry: Registry, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="optin.client")
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, app_version="9.9.9")
    assert "app version '9.9.9' is not declared in the registry of 'millwright'" in feedback.check()[0]
    feedback.turn_on()
    assert feedback.problems.counts["app_version"] == 2  # the check, then the turn-on that records nothing
    assert "add it to the registry's app_versions" in logged(caplog)[-1]


def blocked(tmp_path: Path, registry: Registry, clock: ManualClock, folder: str) -> Feedback:
    """A Feedback whose ``folder`` ("config_dir" or "data_dir") lies below a file: it can never be created."""
    file = tmp_path / "blocked"
    file.write_text("a file where a folder should be")
    paths = AppPaths.under(tmp_path)._replace(**{folder: file / folder})
    return make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, paths=paths)


def test_a_data_folder_that_cannot_be_written_is_told_and_nothing_raises(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    feedback = blocked(tmp_path, registry, clock, "data_dir")
    assert feedback.check() == ["the data folder (queue, period, history) of 'millwright' cannot be written: "
                                "feedback could not be turned on"]  # fmt: skip
    assert feedback.turn_on()  # the user's choice is saved; recording cannot start, and the developer is told
    assert feedback.problems.counts["data_folder"] == 2 and "nothing is recorded" in (feedback.problems.last or "")
    feedback.count("toolpath.pocket")  # never raises
    assert feedback.close(1)


def test_a_consent_file_that_cannot_be_written_keeps_feedback_off_and_says_so(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    feedback = blocked(tmp_path, registry, clock, "config_dir")
    assert not feedback.turn_on() and not feedback.is_on
    assert feedback.problems.counts == {"config_folder": 1}
    assert (feedback.problems.last or "").startswith("the consent file of 'millwright' cannot be written (")


def test_a_registry_from_package_resources_needs_no_working_directory(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "hostapp.zip"  # an installed application whose files are not even on the file system
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("hostapp/__init__.py", "")
        zipped.writestr("hostapp/millwright.toml", millwright_text())
    monkeypatch.syspath_prepend(str(archive))
    monkeypatch.chdir(tmp_path)
    registry = RegistryFile(files("hostapp") / "millwright.toml")
    assert registry.app == "millwright" and registry.load().app == "millwright"
    feedback = feedback_for(registry, tmp_path / "app", clock)
    assert feedback.turn_on() and feedback.is_on and feedback.problems.counts == {}
    assert feedback.close(2)


def test_close_takes_timeout_s_in_code_and_in_the_docs() -> None:
    assert "timeout_s" in inspect.signature(Feedback.close).parameters
    assert "timeout_s" in inspect.signature(Feedback.flush).parameters
    for doc in (ROOT / "README.md", ROOT / "docs" / "client.md"):
        text = doc.read_text()
        assert not re.search(r"\b(close|flush)\(timeout\)", text), doc.name
