"""python -m optin.client (console script `optin`): the user's and the embedding developer's view.

    optin COMMAND [--app NAME] [--registry FILE] [--data-dir DIR] [--endpoint URL] [--app-version V]

(the options may also come before COMMAND; `optin COMMAND --help` says what each does)

Commands: status, enable [--categories A,B], disable, preview, history [--export FILE | --clear], export FILE,
and agent (for hosts in other languages: JSON lines on stdin/stdout, see docs/agent.md).
`enable` is the user's explicit action (recorded with the surface "cli"); `disable` purges the
queue and requests deletion (now, at --endpoint or the collector the history names; otherwise the app
sends it next run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import orjson

from optin.contract import RegistryFile, bundled_registry_file

from ._feedback import Feedback
from ._files import write_atomic
from ._i18n import N_, translations
from ._menu import NOTHING_SENT
from ._options import FeedbackOptions
from ._paths import AppPaths
from ._policy import ADMIN_REASON

CLI_CLOSE_S = 5.0
STATES = {"on": N_("on"), "off": N_("off"), "undecided": N_("undecided")}
SURFACES = {"help_menu": N_("the Help menu"), "prompt": N_("the ask dialog"), "cli": N_("the optin command")}


def _(message: str) -> str:
    """``message`` in the user's language (the system's: a terminal has no host app to choose)."""
    return translations(None).gettext(message)


def _n(singular: str, plural: str, count: int) -> str:
    return translations(None).ngettext(singular, plural, count)


def _when(ts: int | None) -> str:
    return _("never") if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _reason(feedback: Feedback) -> str:
    forced = feedback.forced_off
    return _(forced.message).format(setting=forced.setting) if forced else ""


def _feedback(args: argparse.Namespace) -> Feedback:
    registry = RegistryFile(args.registry) if args.registry else bundled_registry_file(args.app)
    paths = AppPaths.under(args.data_dir) if args.data_dir else AppPaths.for_app(registry.app)
    # A viewer records nothing; without --app-version its preview shows the newest version the registry declares.
    version = args.app_version or registry.load().app_versions[-1]
    options = FeedbackOptions(paths=paths, viewer=True)
    return Feedback(registry, app_version=version, endpoint=args.endpoint or "", options=options)


def status(feedback: Feedback, args: argparse.Namespace) -> int:
    state = feedback.state
    on = _(STATES["on"] if feedback.is_on else STATES["off"])
    print(
        _("Customer Feedback Program for {app}: {on} ({status})").format(
            app=feedback.app, on=on, status=_(STATES[state.status.value])
        )
    )
    if feedback.forced_off:
        print(f"  {_(ADMIN_REASON)}: {_reason(feedback)}")
    changed = _("  last changed: {when}").format(when=_when(state.changed_at))
    surface = _(SURFACES.get(state.surface or "", state.surface or ""))
    print(changed + (_(" from {surface}").format(surface=surface) if surface else ""))
    if state.categories:
        titles = {category.name: category.title for category in feedback.categories()}
        agreed = ", ".join(titles.get(name, name) for name in state.categories)
        print(_("  agreed to: {categories}").format(categories=agreed))
    print(_("  reports waiting to be sent: {count}").format(count=len(feedback.queue.pending())))
    print(_("  reports in the local history: {count}").format(count=len(feedback.history.entries())))
    if state.pending_deletion:
        print(_("  deletion requests not yet acknowledged: {count}").format(count=len(state.pending_deletion)))
    print(_("  consent file: {path}").format(path=feedback.paths.consent_file))
    return 0


def enable(feedback: Feedback, args: argparse.Namespace) -> int:
    """Show what each category sends, then turn on with the categories chosen (default: all of them)."""
    categories = {category.name: category for category in feedback.categories()}
    chosen = tuple(args.categories.split(",")) if args.categories else tuple(categories)
    unknown = [name for name in chosen if name not in categories]
    if unknown or not chosen:
        message = _("Unknown categories: {unknown}; known: {known}")
        print(message.format(unknown=", ".join(unknown), known=", ".join(categories)), file=sys.stderr)
        return 2
    code = translations(None).info().get("language", "")
    for name, category in categories.items():
        title, description = category.in_language(code)
        print(f"[{'x' if name in chosen else ' '}] {title} ({name})\n    {description}")
    print(_(feedback.wording.never_sent))
    if not feedback.turn_on(surface="cli", categories=chosen):
        if feedback.forced_off:
            reason = f"{_(ADMIN_REASON)} ({_reason(feedback)})"
        else:
            reason = _("the consent file could not be written")
        print(_("Not turned on: {reason}").format(reason=reason), file=sys.stderr)
        return 1
    print(_("Customer Feedback Program: on"))
    return 0


def _sent_to(feedback: Feedback) -> str:
    """The collector this computer last sent to, from the local history (read before turning off erases it)."""
    for entry in reversed(feedback.history.entries()):
        for path in ("/v1/reports", "/v1/deletions"):
            if entry.endpoint.endswith(path):
                return entry.endpoint.removesuffix(path)
    return ""


def disable(feedback: Feedback, args: argparse.Namespace) -> int:
    if not feedback.endpoint:
        feedback.endpoint = _sent_to(feedback)  # the deletion goes where the reports went
    feedback.turn_off(surface="cli")
    print(_("Customer Feedback Program: off; queued reports removed."))
    if feedback.state.pending_deletion:
        if feedback.endpoint and feedback.flush(CLI_CLOSE_S) and not feedback.state.pending_deletion:
            print(_("The collector confirmed the deletion of the data sent from this computer."))
        else:
            print(_("Deletion of the data sent from this computer will be requested the next time the app runs."))
    return 0


def preview(feedback: Feedback, args: argparse.Namespace) -> int:
    if not args.app_version:
        note = _("The application's version is unknown here (give --app-version); the preview shows {version}.")
        print(note.format(version=feedback.app_version), file=sys.stderr)
    sys.stdout.write(feedback.preview().decode() + "\n")
    return 0


def history(feedback: Feedback, args: argparse.Namespace) -> int:
    if args.export:  # first: `--export F --clear` keeps a copy of what it clears
        count = feedback.history.export(args.export)
        print(
            _n("Exported {count} entry to {file}", "Exported {count} entries to {file}", count).format(
                count=count, file=args.export
            )
        )
    if args.clear:
        feedback.history.clear()
        print(_("Local history cleared (on this computer only)."))
    if args.export or args.clear:
        return 0
    entries = feedback.history.entries()
    if not entries:
        print(_(NOTHING_SENT))
    for entry in entries:
        line = _("{when}  {result:28}  {size:6d} bytes  {endpoint}")
        print(line.format(when=_when(entry.at), result=entry.result, size=entry.size, endpoint=entry.endpoint))
    return 0


def export(feedback: Feedback, args: argparse.Namespace) -> int:
    """Write the reports waiting in the queue to a file (for computers without a network)."""
    reports = [
        orjson.loads(data) for path in feedback.queue.pending() if (data := feedback.queue.read(path)) is not None
    ]
    write_atomic(args.file, orjson.dumps(reports, option=orjson.OPT_INDENT_2))
    message = _n(
        "Exported {count} pending report to {file}", "Exported {count} pending reports to {file}", len(reports)
    )
    print(message.format(count=len(reports), file=args.file))
    return 0


COMMANDS = {
    "status": status,
    "enable": enable,
    "disable": disable,
    "preview": preview,
    "history": history,
    "export": export,
}


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The options every command takes, before or after the command's name."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--app", default=argparse.SUPPRESS if suppress else "millwright", help="application name (default millwright)"
    )
    parser.add_argument(
        "--registry", type=Path, default=default, help="the application's registry file, if not bundled"
    )
    parser.add_argument(
        "--data-dir",
        "--root",
        dest="data_dir",
        type=Path,
        default=default,
        help="one folder for consent, queue and history (default: the platform's per-user folders)",
    )
    parser.add_argument("--endpoint", default=default, help="collector URL (disable: default from the history)")
    parser.add_argument(
        "--app-version", default=default, help="the version the application reports (preview; default: unknown)"
    )


HELP = {
    "status": "show whether the program is on, since when, and what waits to be sent (changes nothing)",
    "enable": "show what is sent and turn the program on",
    "disable": "turn the program off, remove what waits, and ask the collector to erase what it has",
    "preview": "print the exact JSON the next report would contain",
    "history": "list what was sent from this computer; --export writes it to a file, --clear empties the list",
    "export": "write the reports waiting to be sent to a file (for a computer without a network)",
    "agent": "serve a host application over JSON lines on stdin/stdout (its hello names the app)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="optin", description="See and change the Customer Feedback Program of an application."
    )
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = {name: sub.add_parser(name, help=text, description=text) for name, text in HELP.items()}
    for name, command in commands.items():
        if name != "agent":
            _common(command, suppress=True)
    commands["enable"].add_argument(
        "--categories", help="comma-separated category names to agree to (default: all, as listed)"
    )
    commands["history"].add_argument("--export", type=Path, metavar="FILE", help="write the history to FILE (JSON)")
    commands["history"].add_argument(
        "--clear", action="store_true", help="empty this computer's list (after --export, if both are given)"
    )
    commands["export"].add_argument("file", type=Path, help="where to write the pending reports (JSON)")
    args = parser.parse_args(argv)
    if args.command == "agent":
        from ._agent import run

        return run()
    try:
        feedback = _feedback(args)
    except ValueError as error:  # RegistryError: a missing, unreadable or mismatched registry, an unknown app
        print(f"optin: {error}", file=sys.stderr)  # the registry's own sentence (English, as the file is)
        print(_("Name the application with --app, or its registry file with --registry FILE."), file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.command](feedback, args)
    finally:
        feedback.close(CLI_CLOSE_S if feedback.endpoint else 0.0)


if __name__ == "__main__":
    raise SystemExit(main())
