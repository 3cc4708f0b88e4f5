"""What each agent request does: a thin layer over `Feedback` and `HelpMenu`, so every promise holds.

Each handler takes the checked request and returns the reply's ``result``. A failure the host
should hear about raises `AgentError` with a code from the protocol's error schema.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

import orjson

from optin.contract import RegistryFile, bundled_registry_file

from ._admin import EnterprisePolicy
from ._consent import Answer
from ._feedback import Feedback
from ._menu import NEVER_LABEL, NO_LABEL, PROGRAM_LABEL, VIEW_SENT_LABEL, WHAT_IS_SENT_LABEL, YES_LABEL, HelpMenu
from ._options import FeedbackOptions
from ._paths import AppPaths

PROTOCOL: Final = 1
DEFAULT_CLOSE_S: Final = 2.0  # as Feedback.close: persist first, then try to send within this budget
DEFAULT_FLUSH_S: Final = 5.0

Result = dict[str, Any]


class AgentError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _agent_version() -> str:
    try:
        return version("optin-telemetry")
    except PackageNotFoundError:
        return "unknown"


class Session:
    """The agent's state: nothing until hello, then one `Feedback` for the host application."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = dict(os.environ) if environ is None else environ
        self.feedback: Feedback | None = None
        self.menu: HelpMenu | None = None
        self.app_title = ""
        self.closed = False

    def handle(self, op: str, request: dict[str, Any]) -> Result:
        if op == "hello":
            return self.hello(request)
        if self.feedback is None or self.menu is None:
            raise AgentError("hello_first", "send hello first: it names the application and its registry")
        handler: Callable[[Session, Feedback, HelpMenu, dict[str, Any]], Result] = _HANDLERS[op]
        return handler(self, self.feedback, self.menu, request)

    def hello(self, request: dict[str, Any]) -> Result:
        if self.feedback is not None:
            raise AgentError("already_started", "hello was already answered; start a new agent for another app")
        if request["protocol"] != PROTOCOL:
            raise AgentError("unsupported_protocol", f"this agent speaks protocol {PROTOCOL} only")
        app = request["app"]
        try:
            registry = RegistryFile(Path(request["registry"])) if "registry" in request else bundled_registry_file(app)
            loaded = registry.load()
        except (OSError, ValueError) as error:
            raise AgentError("bad_registry", f"the registry cannot be read: {error}") from None
        if loaded.app != app:
            raise AgentError("bad_registry", f"the registry is for {loaded.app!r}, not {app!r}")
        root = request.get("root")
        title = request.get("app_title")
        enterprise = EnterprisePolicy.for_app(app, request.get("vendor"), title, request.get("bundle_id"))
        self.feedback = Feedback(
            registry,
            app_version=request["app_version"],
            endpoint=request["endpoint"],
            options=FeedbackOptions(
                paths=AppPaths.under(Path(root)) if root else None,
                environ=self.environ,
                ca_bundle=request.get("ca_bundle"),
                enterprise=enterprise,
            ),
        )
        self.menu = HelpMenu(self.feedback, language=request.get("language"))
        self.app_title = title or app.title()
        return {"protocol": PROTOCOL, "agent_version": _agent_version(), "app": app, "status": status(self.feedback)}


def status(feedback: Feedback) -> Result:
    state = feedback.state
    forced = feedback.forced_off
    return {
        "on": feedback.is_on,
        "status": state.status.value,
        "forced_off": f"{forced.reason} ({forced.detail})" if forced else None,
        "categories": list(state.categories),
        "should_ask": feedback.should_ask(),
        "queued": len(feedback.queue.pending()),
    }


def menu_of(menu: HelpMenu) -> Result:
    item = menu.item()
    actions = [
        {"id": "what_is_sent", "label": menu.text(WHAT_IS_SENT_LABEL)},
        {"id": "view_sent", "label": menu.text(VIEW_SENT_LABEL)},
    ]
    return {
        "label": item.label,
        "checked": item.checked,
        "enabled": item.enabled,
        "reason": f"{item.reason} ({item.detail})" if item.detail else item.reason,
        "actions": actions,
    }


def _status(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    return status(feedback)


def _menu(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    return menu_of(menu)


def _toggle(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    menu.toggle()
    return menu_of(menu)


def _turn_on(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    categories = request.get("categories")
    feedback.turn_on(request.get("surface", "help_menu"), None if categories is None else tuple(categories))
    return status(feedback)


def _turn_off(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    feedback.turn_off(request.get("surface", "help_menu"))
    return status(feedback)


def _ask(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    paragraphs = [{"title": title, "text": text} for title, text in menu.ask_paragraphs(session.app_title)]
    return {
        "should_ask": feedback.should_ask(),
        "title": menu.text(PROGRAM_LABEL),
        "paragraphs": paragraphs,
        "yes": menu.text(YES_LABEL),
        "no": menu.text(NO_LABEL),
        "never": menu.text(NEVER_LABEL),
    }


def _answer(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    feedback.answer_prompt(Answer(request["answer"]))
    return status(feedback)


def _count(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    feedback.count(request["name"], request.get("n", 1), request.get("label"))
    return {}


def _flag(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    feedback.flag(request["name"], request.get("value", True))
    return {}


def _choose(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    feedback.choose(request["name"], request["value"])
    return {}


def _quantity(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    feedback.quantity(request["name"], request["value"])
    return {}


def _duration(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    feedback.duration(request["name"], request["seconds"])
    return {}


def _session(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    if request["action"] == "start":
        feedback.start_session()
    else:
        feedback.end_session()
    return {}


def _preview(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    exact = feedback.preview()
    return {"readable": menu.what_is_sent(exact), "report": orjson.loads(exact)}


def _history(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    entries = [
        {"at": e.at, "endpoint": e.endpoint, "size": e.size, "result": e.result, "content": e.content}
        for e in menu.sent_data()
    ]
    return {"readable": menu.sent_data_text(), "entries": entries}


def _clear_history(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    menu.clear_sent_data()
    return {}


def _flush(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    return {"done": feedback.flush(request.get("timeout_s", DEFAULT_FLUSH_S))}


def _close(session: Session, feedback: Feedback, menu: HelpMenu, request: dict[str, Any]) -> Result:
    session.closed = True
    return {"done": feedback.close(request.get("timeout_s", DEFAULT_CLOSE_S))}


_HANDLERS: Final[dict[str, Callable[[Session, Feedback, HelpMenu, dict[str, Any]], Result]]] = {
    "status": _status,
    "menu": _menu,
    "toggle": _toggle,
    "turn_on": _turn_on,
    "turn_off": _turn_off,
    "ask": _ask,
    "answer": _answer,
    "count": _count,
    "flag": _flag,
    "choose": _choose,
    "quantity": _quantity,
    "duration": _duration,
    "session": _session,
    "preview": _preview,
    "history": _history,
    "clear_history": _clear_history,
    "flush": _flush,
    "close": _close,
}
