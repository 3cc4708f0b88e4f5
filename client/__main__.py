"""python -m optin.client (console script `optin`): the user's and the embedding developer's view.

    optin [--app NAME] [--registry FILE] [--root DIR] [--endpoint URL] COMMAND

Commands: status, enable [--categories A,B], disable, preview, history [--export FILE | --clear], export FILE.
`enable` is the user's explicit action (recorded with the surface "cli"); `disable` purges the
queue and requests deletion (now, if --endpoint is given; otherwise the app sends it next run).
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
from ._paths import AppPaths

CLI_CLOSE_S = 5.0


def _when(ts: int | None) -> str:
    return "never" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _feedback(args: argparse.Namespace) -> Feedback:
    registry = RegistryFile(args.registry) if args.registry else bundled_registry_file(args.app)
    paths = AppPaths.under(args.root) if args.root else AppPaths.for_app(registry.app)
    return Feedback(registry, app_version="0", endpoint=args.endpoint or "", paths=paths, viewer=True)


def status(feedback: Feedback, args: argparse.Namespace) -> int:
    state = feedback.state
    print(f"Customer Feedback Program for {feedback.app}: {'on' if feedback.is_on else 'off'} ({state.status.value})")
    if feedback.forced_off:
        print(f"  {feedback.forced_off.reason}: {feedback.forced_off.detail}")
    print(f"  last changed: {_when(state.changed_at)}" + (f" from {state.surface}" if state.surface else ""))
    if state.categories:
        print(f"  agreed to: {', '.join(state.categories)}")
    print(f"  reports waiting to be sent: {len(feedback.queue.pending())}")
    print(f"  reports in the local history: {len(feedback.history.entries())}")
    if state.pending_deletion:
        print(f"  deletion requests not yet acknowledged: {len(state.pending_deletion)}")
    print(f"  consent file: {feedback.paths.consent_file}")
    return 0


def enable(feedback: Feedback, args: argparse.Namespace) -> int:
    """Show what each category sends, then turn on with the categories chosen (default: all of them)."""
    categories = {category.name: category for category in feedback.categories()}
    chosen = tuple(args.categories.split(",")) if args.categories else tuple(categories)
    unknown = [name for name in chosen if name not in categories]
    if unknown or not chosen:
        print(f"Unknown categories: {', '.join(unknown)}; known: {', '.join(categories)}", file=sys.stderr)
        return 2
    for name, category in categories.items():
        mark = "x" if name in chosen else " "
        print(f"[{mark}] {category.title} ({name})\n    {category.description}")
    print(feedback.wording.never_sent)
    if not feedback.turn_on(surface="cli", categories=chosen):
        forced = feedback.forced_off
        reason = f"{forced.reason} ({forced.detail})" if forced else "the consent file could not be written"
        print(f"Not turned on: {reason}", file=sys.stderr)
        return 1
    print("Customer Feedback Program: on")
    return 0


def disable(feedback: Feedback, args: argparse.Namespace) -> int:
    feedback.turn_off(surface="cli")
    print("Customer Feedback Program: off; queued reports removed.")
    if feedback.state.pending_deletion:
        if args.endpoint and feedback.flush(CLI_CLOSE_S) and not feedback.state.pending_deletion:
            print("The collector confirmed the deletion of the data sent from this computer.")
        else:
            print("Deletion of the data sent from this computer will be requested the next time the app runs.")
    return 0


def preview(feedback: Feedback, args: argparse.Namespace) -> int:
    sys.stdout.write(feedback.preview().decode() + "\n")
    return 0


def history(feedback: Feedback, args: argparse.Namespace) -> int:
    if args.export:  # first: `--export F --clear` keeps a copy of what it clears
        count = feedback.history.export(args.export)
        print(f"Exported {count} entries to {args.export}")
    if args.clear:
        feedback.history.clear()
        print("Local history cleared (on this computer only).")
    if args.export or args.clear:
        return 0
    entries = feedback.history.entries()
    if not entries:
        print("Nothing has been sent from this computer.")
    for entry in entries:
        print(f"{_when(entry.at)}  {entry.result:28}  {entry.size:6d} bytes  {entry.endpoint}")
    return 0


def export(feedback: Feedback, args: argparse.Namespace) -> int:
    """Write the reports waiting in the queue to a file (for computers without a network)."""
    reports = [
        orjson.loads(data) for path in feedback.queue.pending() if (data := feedback.queue.read(path)) is not None
    ]
    write_atomic(args.file, orjson.dumps(reports, option=orjson.OPT_INDENT_2))
    print(f"Exported {len(reports)} pending report(s) to {args.file}")
    return 0


COMMANDS = {
    "status": status,
    "enable": enable,
    "disable": disable,
    "preview": preview,
    "history": history,
    "export": export,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="optin", description="See and change the Customer Feedback Program of an application."
    )
    parser.add_argument("--app", default="millwright", help="application name (its registry ships with it)")
    parser.add_argument("--registry", type=Path, help="the application's registry file, if not bundled")
    parser.add_argument(
        "--root", type=Path, help="one folder for consent, queue and history (default: the platform's user folders)"
    )
    parser.add_argument("--endpoint", help="collector URL, to send a deletion request at once")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("status", "disable", "preview"):
        sub.add_parser(name)
    enable_parser = sub.add_parser("enable", help="show what is sent and turn the program on")
    enable_parser.add_argument(
        "--categories", help="comma-separated category names to agree to (default: all, as listed)"
    )
    hist = sub.add_parser("history")
    hist.add_argument("--export", type=Path)
    hist.add_argument("--clear", action="store_true")
    exp = sub.add_parser("export")
    exp.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    feedback = _feedback(args)
    try:
        return COMMANDS[args.command](feedback, args)
    finally:
        feedback.close(CLI_CLOSE_S if args.endpoint else 0.0)


if __name__ == "__main__":
    raise SystemExit(main())
