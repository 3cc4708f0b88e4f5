"""`FeedbackOptions`: everything about a `Feedback` that a host may choose, as one value.

Every field has a default that suits an installed desktop application; a host names only what it
changes (its folders, its wording, its administrative variable), a test or simulation its clock and
transport. Nothing here can turn feedback on: only the user's action does (`Feedback.turn_on`).
"""

from __future__ import annotations

from ._light import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from ._admin import EnterprisePolicy
    from ._facts import FactsProvider
    from ._paths import AppPaths
    from ._policy import AskPolicy
    from ._protocols import Clock
    from ._queue import ReportQueue
    from ._transport import Transport
    from ._wording import Wording

DAY_S: Final = 86400
DEFAULT_TIMEOUT_S: Final = 10.0  # connect and read timeout of one upload


class FeedbackOptions(NamedTuple):
    """How a `Feedback` is set up; None means the default named beside each field."""

    paths: AppPaths | None = None  # the folders (default: the platform's per-user folders for the app)
    clock: Clock | None = None  # default: the system clock; tests and simulations move a `ManualClock`
    transport: Transport | None = None  # default: HTTP(S) with the OS trust store (`HttpTransport`)
    facts: FactsProvider | None = None  # default: the coarsened system facts (psutil, platform)
    ask_policy: AskPolicy | None = None  # when to ask again (default `AskPolicy()`)
    period_s: int = DAY_S  # one report per period, however often the app starts
    environ: dict[str, str] | None = None  # where DO_NOT_TRACK and the app's variable are read (default os.environ)
    ca_bundle: str | None = None  # a CA file of one's own instead of the OS trust store
    timeout_s: float = DEFAULT_TIMEOUT_S  # connect and read timeout of one upload
    queue: ReportQueue | None = None  # default: the queue folder under `paths`
    viewer: bool = False  # a tool looking at the state (the CLI): no thread unless flushed, nothing recorded kept
    wording: Wording | None = None  # the application's sentences in the dialogs (default: Millwright's example)
    admin_variable: str | None = None  # the variable an administrator sets to "off" (default <APP>_FEEDBACK)
    enterprise: EnterprisePolicy | None = None  # names IT uses in policy keys (default `EnterprisePolicy.for_app`)
