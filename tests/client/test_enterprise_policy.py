"""Enterprise IT turns feedback off (never on): Windows policy keys (machine, then user) and macOS managed
preferences, read through the `EnterprisePolicy` seam so every branch runs here on Linux: a fake
registry reader, real plist files in a stand-in for /Library/Managed Preferences. On Windows the real
winreg reader is exercised too."""

from __future__ import annotations

import plistlib
import sys
from pathlib import Path

import pytest

from optin.client import EnterprisePolicy, HelpMenu, ManualClock, Status
from optin.client._admin import enterprise_off
from optin.contract import Registry

from .agent_child import AgentChild, hello
from .conftest import SocketGuard, make_feedback

KEY = "Software\\Policies\\Millwright Software\\Millwright"


def registry_of(values: dict[tuple[str, str], object]) -> EnterprisePolicy:
    """Windows, with a registry holding ``values`` under (hive, value name) of the app's policy key."""

    def read(hive: str, key: str, name: str) -> object:
        assert key == KEY, key
        value = values.get((hive, name))
        if isinstance(value, OSError):
            raise value
        return value

    return EnterprisePolicy("Millwright Software", "Millwright", "com.millwright.cam", platform="win32", registry=read)


Prefs = dict[str, object] | bytes | None


def mac_with(tmp_path: Path, machine: Prefs = None, user: Prefs = None) -> EnterprisePolicy:
    """macOS, with managed preferences (real plist files) for the machine and for the user ``alice``."""
    for folder, prefs in ((tmp_path, machine), (tmp_path / "alice", user)):
        if prefs is not None:
            folder.mkdir(parents=True, exist_ok=True)
            data = prefs if isinstance(prefs, bytes) else plistlib.dumps(prefs)
            (folder / "com.millwright.cam.plist").write_bytes(data)
    return EnterprisePolicy(
        "Millwright Software", "Millwright", "com.millwright.cam", platform="darwin", managed_dir=tmp_path, user="alice"
    )


@pytest.mark.parametrize(
    ("values", "off"),
    [
        ({}, False),
        ({("HKLM", "Feedback"): 0}, True),  # the machine policy: DWORD 0
        ({("HKCU", "Feedback"): 0}, True),  # the per-user policy
        ({("HKLM", "Feedback"): "off"}, True),  # a string value
        ({("HKLM", "Feedback"): 1}, False),  # never on: any other value is ignored
        ({("HKLM", "Feedback"): "on", ("HKCU", "Feedback"): "enabled"}, False),
        ({("HKLM", "Feedback"): 1, ("HKCU", "Feedback"): 0}, True),  # the machine cannot undo a user's off
        ({("HKLM", "Feedback"): PermissionError("denied")}, True),  # unreadable: fail closed
    ],
)
def test_windows_policy_keys_force_feedback_off_never_on(values: dict[tuple[str, str], object], off: bool) -> None:
    forced = enterprise_off(registry_of(values))
    assert (forced is not None) is off
    if forced is not None:
        assert KEY in forced.detail and forced.reason == "Turned off by your administrator"


@pytest.mark.parametrize(
    ("machine", "user", "off"),
    [
        (None, None, False),
        ({"Feedback": False}, None, True),
        ({"Feedback": 0}, None, True),
        (None, {"Feedback": "off"}, True),
        ({"Feedback": True}, {"Feedback": "on"}, False),  # never on
        ({"OtherSetting": False}, None, False),
        (b"not a property list", None, True),  # unreadable: fail closed
    ],
)
def test_macos_managed_preferences_force_feedback_off_never_on(
    tmp_path: Path, machine: Prefs, user: Prefs, off: bool
) -> None:
    forced = enterprise_off(mac_with(tmp_path, machine, user))
    assert (forced is not None) is off
    if forced is not None:
        assert "com.millwright.cam.plist" in forced.detail and "alice" not in forced.detail  # no user name shown


def test_on_linux_only_the_policy_file_and_environment_count(tmp_path: Path) -> None:
    linux = registry_of({("HKLM", "Feedback"): 0})._replace(platform="linux")
    assert enterprise_off(linux) is None
    assert enterprise_off(mac_with(tmp_path, {"Feedback": False})._replace(platform="linux")) is None


def test_a_managed_off_disables_the_menu_item_refuses_turn_on_and_touches_nothing(
    tmp_path: Path, registry: Registry, clock: ManualClock, socket_guard: SocketGuard
) -> None:
    policy = registry_of({("HKLM", "Feedback"): 0})
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, enterprise=policy)
    item = HelpMenu(feedback, language="en").item()
    assert not item.enabled and item.reason == "Turned off by your administrator"
    assert item.detail == f"your administrator has turned feedback off (HKLM\\{KEY}\\Feedback)"
    assert (
        HelpMenu(feedback, language="de").item().detail.startswith("Ihr Administrator hat das Feedback ausgeschaltet")
    )
    assert feedback.turn_on() is False and HelpMenu(feedback).toggle() is False
    assert not feedback.is_on and feedback.state.status is Status.UNDECIDED and not feedback.should_ask()
    feedback.count("toolpath.pocket")
    assert feedback.close(1)
    assert socket_guard.events == []
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == ["config/consent.json"]


def test_a_managed_off_also_stops_a_user_who_had_turned_feedback_on(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    earlier = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock)
    assert earlier.turn_on()
    earlier.close(0)
    later = make_feedback(
        registry, tmp_path, "http://127.0.0.1:9", clock, enterprise=registry_of({("HKCU", "Feedback"): 0})
    )
    assert later.state.status is Status.ON and not later.is_on and later.forced_off is not None
    later.close(0)


def test_the_default_names_are_those_docs_client_md_gives_it() -> None:
    policy = EnterprisePolicy.for_app("millwright")
    assert (policy.windows_key, policy.bundle_id) == ("Software\\Policies\\optin\\millwright", "org.optin.millwright")
    named = EnterprisePolicy.for_app("millwright", "Millwright Software", "Millwright", "com.millwright.cam")
    assert (named.windows_key, named.bundle_id) == (KEY, "com.millwright.cam")


def test_the_agents_hello_takes_the_names_it_uses(tmp_path: Path) -> None:
    agent = AgentChild()
    started = agent.request(
        "hello", **hello(tmp_path, "http://127.0.0.1:9", vendor="Millwright Software", bundle_id="com.millwright.cam")
    )
    assert started["ok"] and started["result"]["status"]["forced_off"] is None  # Linux: no managed store to read
    assert agent.end() == 0


@pytest.mark.skipif(sys.platform != "win32", reason="the real Windows registry exists only on Windows")
def test_the_real_windows_registry_reader(tmp_path: Path) -> None:
    if sys.platform == "win32":  # always, when not skipped; the type checker reads winreg's stubs only here
        import winreg

        key = "Software\\Policies\\optin-test\\millwright"
        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, key) as opened:
            winreg.SetValueEx(opened, "Feedback", 0, winreg.REG_DWORD, 0)
        try:
            forced = enterprise_off(EnterprisePolicy("optin-test", "millwright", "x"))
            assert forced is not None and key in forced.detail
        finally:
            winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)
