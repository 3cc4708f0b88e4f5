"""python -m optin.demo.desktop: Millwright, a small CAD/CAM look-alike with the Customer Feedback Program.

The Help menu holds the program's check item, "What is sent…" and "View sent data…". Feedback is
off until the user turns it on there (or answers "yes" when the app asks, after the grace
period). No option of this command turns it on.
"""

from __future__ import annotations

import argparse
import tkinter as tk
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from optin.client import AppPaths, AskPolicy, Feedback, FeedbackOptions
from optin.contract import bundled_registry

from ._desktop_app import MillwrightWindow

APP = "millwright"
APP_VERSION = "2025.3.0"
DEFAULT_ENDPOINT = "http://127.0.0.1:8080"  # the collector's default address


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m optin.demo.desktop", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"collector URL (default {DEFAULT_ENDPOINT})")
    parser.add_argument(
        "--collector-db",
        type=Path,
        help="start a collector inside this process, storing into this DuckDB file, and send there",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep consent, queue and history below this folder (default: your per-user folders)",
    )
    parser.add_argument(
        "--ask-after-days", type=float, help="days after the first run before the app asks once (default 7)"
    )
    return parser.parse_args(argv)


@contextmanager
def endpoint_for(args: argparse.Namespace) -> Iterator[str]:
    if args.collector_db is None:
        yield args.endpoint
        return
    from optin.collector import CollectorThread, Config  # needs the [collector] extra

    with CollectorThread(Config(db=args.collector_db, host="127.0.0.1", port=0)) as collector:
        print(f"Collector listening on {collector.url}, storing into {args.collector_db}", flush=True)
        yield collector.url


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    policy = AskPolicy() if args.ask_after_days is None else AskPolicy(grace_days=args.ask_after_days)
    paths = AppPaths.under(args.data_dir) if args.data_dir else AppPaths.for_app(APP)
    with endpoint_for(args) as endpoint:
        feedback = Feedback(
            bundled_registry(APP),
            app_version=APP_VERSION,
            endpoint=endpoint,
            options=FeedbackOptions(paths=paths, ask_policy=policy),
        )
        root = tk.Tk(className="Millwright")
        MillwrightWindow(root, feedback)
        root.mainloop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
