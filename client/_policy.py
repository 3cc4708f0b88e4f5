"""When to ask, and when an administrator has forced feedback off.

Both decide from dates in the consent file, the environment and a machine-wide policy file.
Nothing here can turn feedback on: the only outcomes are "ask", "don't ask" and "forced off".
"""

from __future__ import annotations

import os
from pathlib import Path

from ._consent import Answer, ConsentState
from ._light import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final

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


class AdminOff(NamedTuple):
    """Why feedback is forced off, or None when it is not."""

    reason: str


def app_env_var(app: str) -> str:
    return f"{app.upper().replace('.', '_')}_FEEDBACK"


def admin_off(app: str, policy_file: Path, environ: Mapping[str, str] | None = None) -> AdminOff | None:
    """``DO_NOT_TRACK=1``, ``<APP>_FEEDBACK=off`` or ``feedback = "off"`` in the policy file force it off.

    Any other value of those settings is ignored: they can never turn feedback on.
    """
    env = os.environ if environ is None else environ
    if env.get("DO_NOT_TRACK", "").strip().lower() in {"1", "true", "yes"}:
        return AdminOff("DO_NOT_TRACK is set on this computer")
    var = app_env_var(app)
    if env.get(var, "").strip().lower() in {"0", "off", "false", "no", "disabled"}:
        return AdminOff(f"{var} turns feedback off on this computer")
    try:
        text = policy_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return AdminOff("the administrator's feedback policy file cannot be read")  # fail closed
    import tomllib  # only when an administrator has written a policy file

    try:
        policy = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return AdminOff("the administrator's feedback policy file cannot be read")  # fail closed
    if str(policy.get("feedback", "")).lower() == "off":
        return AdminOff("your administrator has turned feedback off")
    return None
