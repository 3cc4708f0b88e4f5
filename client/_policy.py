"""When to ask, and when an administrator has forced feedback off.

Both decide from dates in the consent file, the environment and a machine-wide policy file.
Nothing here can turn feedback on: the only outcomes are "ask", "don't ask" and "forced off".
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ._consent import Answer, ConsentState
from ._light import N_, NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final

    from ._admin import EnterprisePolicy

DAY_SECONDS: Final = 86400
DEFAULT_GRACE_DAYS: Final = 7  # let people get to know the app before asking anything
DEFAULT_REASK_DAYS: Final = 180
DEFAULT_MAX_PROMPTS: Final = 3


class AskPolicy(NamedTuple):
    """Answers "should the app ask now?" from the consent file's dates only."""

    grace_days: float = DEFAULT_GRACE_DAYS
    reask_days: float = DEFAULT_REASK_DAYS
    max_prompts: int = DEFAULT_MAX_PROMPTS

    def should_ask(
        self,
        state: ConsentState,
        now: float,
        current_categories: tuple[str, ...] = (),
        descriptions_changed: bool = False,
    ) -> bool:
        """``current_categories`` and ``descriptions_changed`` matter only while on: the registry
        gained a category the user has not agreed to, or what an agreed category says has changed."""
        if state.dont_ask_again or len(state.prompts) >= self.max_prompts:
            return False
        if state.is_on:
            return descriptions_changed or bool(set(current_categories) - set(state.categories))
        declines = [p.at for p in state.prompts if p.answer is not Answer.YES]
        if state.changed_at is not None and state.surface != "prompt":
            declines.append(state.changed_at)  # turned off by hand: a decline as recent as the change
        if not declines:
            return now >= state.first_run + self.grace_days * DAY_SECONDS
        return now >= max(declines) + self.reask_days * DAY_SECONDS


ADMIN_REASON: Final = N_("Turned off by your administrator")


class AdminOff(NamedTuple):
    """Why feedback is forced off (`admin_off` returns None when it is not).

    The user reads ``reason`` ("Turned off by your administrator") as the main text and ``detail`` on a
    line of its own: ``message`` (one of the words below, translated where it is shown) naming ``setting``.
    """

    message: str
    setting: str = ""

    @property
    def reason(self) -> str:
        """The main text in English (logs, the CLI's fallback); `HelpMenu.item` shows it translated."""
        return ADMIN_REASON

    @property
    def detail(self) -> str:
        """Which setting forces it off, in English; `HelpMenu.item` shows it translated."""
        return self.message.format(setting=self.setting)


DO_NOT_TRACK_OFF: Final = N_("{setting} is set on this computer")
APP_VARIABLE_OFF: Final = N_("{setting} turns feedback off on this computer")
POLICY_UNREADABLE: Final = N_("the administrator's feedback policy file cannot be read")
POLICY_OFF: Final = N_("your administrator has turned feedback off")


MANAGED_PLATFORMS: Final = ("win32", "darwin")  # where `_admin.enterprise_off` reads a managed policy


def app_env_var(app: str) -> str:
    return f"{app.upper().replace('.', '_').replace('-', '_')}_FEEDBACK"


def admin_off(
    app: str,
    policy_file: Path,
    environ: Mapping[str, str] | None = None,
    enterprise: EnterprisePolicy | None = None,
    variable: str | None = None,
) -> AdminOff | None:
    """``DO_NOT_TRACK=1``, ``<APP>_FEEDBACK=off`` (or ``variable``), ``feedback = "off"`` in the policy file,
    or the platform's managed policy (``enterprise``: Windows policy keys, macOS managed preferences; None:
    `EnterprisePolicy.for_app`, read only on the platforms that keep one) force it off.

    Any other value of those settings is ignored: they can never turn feedback on.
    """
    env = os.environ if environ is None else environ
    if env.get("DO_NOT_TRACK", "").strip().lower() in {"1", "true", "yes"}:
        return AdminOff(DO_NOT_TRACK_OFF, "DO_NOT_TRACK")
    var = variable or app_env_var(app)
    if env.get(var, "").strip().lower() in {"0", "off", "false", "no", "disabled"}:
        return AdminOff(APP_VARIABLE_OFF, var)
    forced = _policy_file_off(policy_file)
    if forced is None and (enterprise is not None or sys.platform in MANAGED_PLATFORMS):
        from ._admin import EnterprisePolicy, enterprise_off  # not imported where no platform policy exists

        forced = enterprise_off(enterprise or EnterprisePolicy.for_app(app))
    return forced


def _policy_file_off(policy_file: Path) -> AdminOff | None:
    try:
        text = policy_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return AdminOff(POLICY_UNREADABLE)  # fail closed
    import tomllib  # only when an administrator has written a policy file

    try:
        policy = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return AdminOff(POLICY_UNREADABLE)  # fail closed
    if str(policy.get("feedback", "")).lower() == "off":
        return AdminOff(POLICY_OFF)
    return None
