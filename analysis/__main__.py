"""python -m optin.analysis (or optin-analysis): canned questions answered from privacy releases.

Sources: a collector's DuckDB file (collector stopped, opened read-only), a Parquet snapshot
folder, or a running collector over HTTP with a token. Outputs: table, json, csv or html.
`budget` shows the privacy ledger; `publish` writes the released tables for anyone in the
company; `release` runs the release job against a stopped collector's file (read-write).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Protocol

from ._catalog import QUESTIONS
from ._compare import NOT_COMPARABLE, compare
from ._export import tables_to_csv, tables_to_json
from ._html import render_html
from ._progress import Progress
from ._releases import WeekBudget
from ._remote import RemoteError, RemoteSource
from ._render import render_table
from ._source import LocalSource, open_database, open_snapshot
from ._table import DEFAULT_K, Table
from ._tools import add_tool_commands, run_tool
from ._window import APP_NAME, PERIODS, Window

TOKEN_ENV = "OPTIN_ANALYSIS_TOKEN"


class Source(Protocol):
    def days(self, app: str) -> tuple[dt.date, dt.date] | None: ...
    def ask(self, question: str, window: Window) -> Table: ...
    def budget(self, app: str) -> list[WeekBudget]: ...
    def progress(self) -> float | None: ...
    def close(self) -> None: ...


def _k(text: str) -> int:
    value = int(text)
    if value < DEFAULT_K:
        raise argparse.ArgumentTypeError(f"k can only be raised: at least {DEFAULT_K}")
    return value


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("source (exactly one)").add_mutually_exclusive_group(required=True)
    where.add_argument("--db", type=Path, help="collector DuckDB file (opened read-only; stop the collector first)")
    where.add_argument("--snapshot", type=Path, help="Parquet snapshot folder written by the collector")
    where.add_argument(
        "--url", help=f"running collector, e.g. http://127.0.0.1:8080 (token from --token-file or ${TOKEN_ENV})"
    )
    common.add_argument("--token-file", type=Path, help="file holding the collector's analysis token")
    common.add_argument("--app", default="millwright")
    common.add_argument(
        "--from",
        dest="first",
        type=dt.date.fromisoformat,
        help="first day, YYYY-MM-DD (default: the first released day)",
    )
    common.add_argument(
        "--to", dest="last", type=dt.date.fromisoformat, help="last day, YYYY-MM-DD (default: the last released day)"
    )
    common.add_argument(
        "--period", choices=PERIODS, default="week", help="which released periods answer (trends show each)"
    )
    common.add_argument(
        "--k",
        type=_k,
        default=DEFAULT_K,
        help=f"display threshold: rows with a smaller noisy count are hidden (at least {DEFAULT_K})",
    )
    common.add_argument("--format", choices=("table", "json", "csv", "html"), default="table")
    common.add_argument("--out", type=Path, help="write here instead of standard output")
    parser = argparse.ArgumentParser(
        prog="optin-analysis",
        description="Answers from differentially private releases of closed periods, each number with its 95 %"
        " interval.",
    )
    sub = parser.add_subparsers(dest="question", required=True, metavar="QUESTION")
    for name, question in QUESTIONS.items():
        doc = (question.__doc__ or name).strip().splitlines()[0]
        sub.add_parser(name, parents=[common], help=doc, description=doc)
    sub.add_parser("report", parents=[common], help="every question above, in one output")
    compare = sub.add_parser(
        "compare",
        parents=[common],
        help="one question in two periods side by side: the change, and whether it exceeds the noise",
        description="The latest released period in --before-from..--before-to against the latest in --from..--to.",
    )
    compare.add_argument(
        "name",
        choices=[q for q in QUESTIONS if q not in NOT_COMPARABLE],
        metavar="QUESTION",
        help=f"any question above but {' and '.join(NOT_COMPARABLE)} (curves since a start)",
    )
    compare.add_argument("--before-from", type=dt.date.fromisoformat, required=True, help="YYYY-MM-DD")
    compare.add_argument("--before-to", type=dt.date.fromisoformat, required=True, help="YYYY-MM-DD")
    sub.add_parser("budget", parents=[common], help="privacy budget spent and refused releases, per week")
    add_tool_commands(sub)
    return parser


def _source(args: argparse.Namespace) -> Source:
    if args.db is not None:
        return LocalSource(open_database(args.db), args.k)
    if args.snapshot is not None:
        return LocalSource(open_snapshot(args.snapshot), args.k)
    token = args.token_file.read_text(encoding="utf-8").strip() if args.token_file else os.environ.get(TOKEN_ENV, "")
    if not token:
        raise SystemExit(f"--url needs a token: --token-file PATH or ${TOKEN_ENV}")
    return RemoteSource(args.url, token, args.k)


def _render(fmt: str, tables: dict[str, Table], window: Window) -> str:
    heading = f"{window.app}: released periods in {window.first_day} to {window.last_day}"
    if fmt == "json":
        return tables_to_json(
            tables,
            {
                "app": window.app,
                "from": window.first_day.isoformat(),
                "to": window.last_day.isoformat(),
                "period": window.period,
            },
        )
    if fmt == "csv":
        return tables_to_csv(list(tables.values()))
    if fmt == "html":
        return render_html(
            list(tables.values()),
            heading,
        )
    return f"{heading}\n\n" + "\n".join(render_table(t) for t in tables.values())


def _budget(source: Source, app: str, fmt: str) -> str:
    from ._noise import epsilon

    weeks = source.budget(app)
    if fmt == "json":
        import json

        doc = [
            {"week": w.week.isoformat(), "spent_rho": w.spent, "releases": w.releases, "refused": w.refused}
            for w in weeks
        ]
        return json.dumps({"app": app, "weeks": doc}, indent=2) + "\n"
    lines = [
        f"Privacy budget of {app}, per week (zCDP ρ; ε at δ = 1e-7)",
        "week        spent ρ   ε      releases  refused",
    ]
    for w in weeks:
        lines.append(f"{w.week}  {w.spent:8.4f}  {epsilon(w.spent):5.2f}  {w.releases:8d}  {w.refused:7d}")
    if not weeks:
        lines.append("(nothing released yet)")
    return "\n".join(lines) + "\n"


def _refusal(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments, checked before any source is opened or queried."""
    if not APP_NAME.fullmatch(args.app):
        return f"--app {args.app!r} is not an application name (lower-case letters, digits, _ and .)"
    if args.out is not None and not args.out.parent.is_dir():
        return f"--out: the folder {args.out.parent} does not exist"
    if args.out is not None and args.out.is_dir():
        return f"--out: {args.out} is a folder; give a file name"
    return None


def _answer(args: argparse.Namespace, source: Source) -> tuple[int, str]:
    """The text to write for a question, `report` or `budget` (exit code 0), or an exit code and a message."""
    if args.question == "budget":
        return 0, _budget(source, args.app, args.format)
    first, last = args.first, args.last
    if first is None or last is None:
        days = source.days(args.app)
        if days is None:
            return 1, f"Nothing released for {args.app} yet (periods are released after they close)."
        first, last = first or days[0], last or days[1]
    try:
        window = Window(args.app, first, last, args.period)
    except ValueError as error:
        return 2, f"optin-analysis: {error}"
    if args.question == "compare":
        try:
            before = Window(args.app, args.before_from, args.before_to, args.period)
        except ValueError as error:
            return 2, f"optin-analysis: --before-from/--before-to: {error}"
        return 0, _render(
            args.format, {"compare": compare(source.ask(args.name, before), source.ask(args.name, window))}, window
        )
    names = list(QUESTIONS) if args.question == "report" else [args.question]
    tables: dict[str, Table] = {}
    progress = Progress(sys.stderr, source.progress)
    for i, name in enumerate(names, 1):
        label = f"[{i}/{len(names)}] {name}" if len(names) > 1 else name

        def work(name: str = name) -> None:
            tables[name] = source.ask(name, window)

        progress.run(label, work)
    return 0, _render(args.format, tables, window)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.question in ("release", "publish"):
        return run_tool(args)
    refusal = _refusal(args)
    if refusal is not None:
        print(f"optin-analysis: {refusal}", file=sys.stderr)
        return 2
    try:
        source = _source(args)
    except FileNotFoundError as error:
        print(f"optin-analysis: {error}", file=sys.stderr)
        return 2
    try:
        code, text = _answer(args, source)
    except RemoteError as error:
        code, text = 1, f"optin-analysis: {error}"
    finally:
        source.close()
    if code != 0:
        print(text, file=sys.stderr)
    elif args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
