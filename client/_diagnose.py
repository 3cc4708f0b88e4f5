"""Problems the embedding developer must fix, found and told (see `_log.Problems`): a registry that
cannot be used, an undeclared app version, a folder that cannot be written."""

from __future__ import annotations

from . import _log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from optin.contract import Registry

    from ._feedback import Feedback
    from ._transitions import Consent


def usable_registry(feedback: Consent) -> Registry | None:
    """The registry, or None with the reason counted and logged (the host never sees an exception)."""
    try:
        return feedback.registry
    except (OSError, ValueError) as error:
        reason = _log.os_reason(error)
        feedback.problems.report(_log.REGISTRY, f"the registry of '{feedback.app}' cannot be used: {reason}")
        return None


def version_declared(feedback: Feedback, registry: Registry) -> bool:
    """Whether the host's version is declared; the collector would refuse every report (422) if not."""
    if feedback.app_version in registry.app_versions:
        return True
    declared = ", ".join(registry.app_versions)
    message = f"app version '{feedback.app_version}' is not declared in the registry of '{feedback.app}' ({declared}): "
    feedback.problems.report(_log.APP_VERSION, message + "add it to the registry's app_versions; nothing is recorded")
    return False


def check(feedback: Feedback) -> list[str]:
    """Every problem that would keep feedback from working once the user turns it on; creates nothing."""
    from ._files import writable

    problems = []
    registry = usable_registry(feedback)
    if registry is None or not version_declared(feedback, registry):
        problems.append(feedback.problems.last or "")
    paths = feedback.paths
    for code, folder, what in (
        (_log.CONFIG_FOLDER, paths.config_dir, "configuration folder (the consent file)"),
        (_log.DATA_FOLDER, paths.data_dir, "data folder (queue, period, history)"),
    ):
        if not writable(folder):
            message = f"the {what} of '{feedback.app}' cannot be written: feedback could not be turned on"
            feedback.problems.report(code, message)
            problems.append(message)
    return problems
