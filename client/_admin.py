"""Where IT departments turn feedback off: Windows policy keys and macOS managed preferences.

Both can only force feedback off, never on: a value that does not mean "off" is ignored. A
policy that exists but cannot be read forces it off (fail closed). The platform's own store is
read through one small seam (`EnterprisePolicy`'s reader and folder), so tests exercise every
branch on any system; the Linux (and any platform's) policy file and the environment variables
are read by `admin_off` in `_policy.py`, which calls `enterprise_off` last.

    Windows  HKLM\\Software\\Policies\\<Vendor>\\<App>   value Feedback = 0 (DWORD) or "off"
             HKCU\\Software\\Policies\\<Vendor>\\<App>   the same, for one user
    macOS    /Library/Managed Preferences/<bundle id>.plist            key Feedback = false, 0 or "off"
             /Library/Managed Preferences/<user>/<bundle id>.plist     the same, for one user
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from ._i18n import N_
from ._light import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from ._policy import AdminOff

# (hive, key, value name) -> the value, or None when the key or value does not exist; raises
# OSError when it exists but cannot be read.
RegistryReader = Callable[[str, str, str], object]

MANAGED_PREFERENCES: Final = Path("/Library/Managed Preferences")
HIVES: Final = ("HKLM", "HKCU")  # the machine's policy first, then the user's
VALUE_NAME: Final = "Feedback"
OFF_WORDS: Final = frozenset({"0", "off", "false", "no", "disabled"})
MANAGED_OFF: Final = N_("your administrator has turned feedback off ({setting})")
MANAGED_UNREADABLE: Final = N_("the administrator's feedback policy cannot be read ({setting})")


class EnterprisePolicy(NamedTuple):
    """The names under which IT finds this application, and where this platform keeps policies.

    ``vendor`` and ``product`` name the Windows key ``Software\\Policies\\<vendor>\\<product>``;
    ``bundle_id`` names the macOS managed preferences. ``platform``, ``registry`` and
    ``managed_dir`` are the seam: the running system's by default.
    """

    vendor: str
    product: str
    bundle_id: str
    platform: str = sys.platform
    registry: RegistryReader | None = None  # None: winreg, on Windows
    managed_dir: Path = MANAGED_PREFERENCES
    user: str | None = None  # None: the logged-in user (macOS per-user managed preferences)

    @classmethod
    def for_app(
        cls, app: str, vendor: str | None = None, product: str | None = None, bundle_id: str | None = None
    ) -> EnterprisePolicy:
        """What an app does not name: vendor ``optin``, product ``app``, bundle id ``org.optin.<app>``."""
        return cls(vendor or "optin", product or app, bundle_id or f"org.optin.{app}")

    @property
    def windows_key(self) -> str:
        return f"Software\\Policies\\{self.vendor}\\{self.product}"


def enterprise_off(policy: EnterprisePolicy) -> AdminOff | None:
    """Why the platform's managed policy forces feedback off, or None."""
    if policy.platform == "win32":
        return _windows_off(policy)
    if policy.platform == "darwin":
        return _mac_off(policy)
    return None


def _means_off(value: object) -> bool:
    if isinstance(value, bool):
        return value is False
    if isinstance(value, int):
        return value == 0
    return isinstance(value, str) and value.strip().lower() in OFF_WORDS


def _windows_off(policy: EnterprisePolicy) -> AdminOff | None:
    from ._policy import AdminOff

    read = policy.registry or _winreg_reader
    for hive in HIVES:
        where = f"{hive}\\{policy.windows_key}\\{VALUE_NAME}"
        try:
            value = read(hive, policy.windows_key, VALUE_NAME)
        except OSError:
            return AdminOff(MANAGED_UNREADABLE, where)  # fail closed
        if _means_off(value):
            return AdminOff(MANAGED_OFF, where)
    return None


def _winreg_reader(hive: str, key: str, name: str) -> object:
    if sys.platform != "win32":
        raise OSError("the Windows registry exists only on Windows")
    import winreg

    root = winreg.HKEY_LOCAL_MACHINE if hive == "HKLM" else winreg.HKEY_CURRENT_USER
    try:
        with winreg.OpenKey(root, key) as opened:
            value, _kind = winreg.QueryValueEx(opened, name)
    except FileNotFoundError:
        return None
    return value


def _mac_off(policy: EnterprisePolicy) -> AdminOff | None:
    from ._policy import AdminOff

    user = policy.user
    if user is None:
        import getpass

        user = getpass.getuser()
    name = f"{policy.bundle_id}.plist"
    where = f"{VALUE_NAME} in {name}"  # never the user's folder: no user name goes into a reason
    for plist in (policy.managed_dir / name, policy.managed_dir / user / name):
        try:
            data = plist.read_bytes()
        except FileNotFoundError:
            continue
        except OSError:
            return AdminOff(MANAGED_UNREADABLE, name)  # fail closed
        import plistlib

        try:
            prefs = plistlib.loads(data)
        except (plistlib.InvalidFileException, ValueError):
            return AdminOff(MANAGED_UNREADABLE, name)  # fail closed
        if isinstance(prefs, dict) and VALUE_NAME in prefs and _means_off(prefs[VALUE_NAME]):
            return AdminOff(MANAGED_OFF, where)
    return None
