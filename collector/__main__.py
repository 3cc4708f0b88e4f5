"""python -m optin.collector: run the collector until SIGINT or SIGTERM, then drain and commit.

`python -m optin.collector snapshot ...` writes a Parquet snapshot on demand: from the database
file when no collector holds it, or by asking a running collector (`--url`, with the token).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import urllib.request
from dataclasses import fields
from pathlib import Path

import duckdb
import orjson

from ._app import start
from ._config import Config, load_config
from ._logs import configure
from ._snapshot import write_snapshot

log = logging.getLogger("optin.collector")

# Settings that are never flags: a token on the command line is visible to every user of the machine.
_NOT_FLAGS = {"token"}
_HELP = {
    "config": "TOML file of settings (see docs/operations.md)",
    "db": "DuckDB file (default: a file in the user data folder)",
    "port": "0 picks a free port; the chosen one is logged",
    "registries": "folder of application registries (*.toml)",
    "token_file": "file holding the token of the aggregate endpoints (or set OPTIN_COLLECTOR_TOKEN)",
}


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", type=Path, help=_HELP["config"])
    for f in fields(Config):
        if f.name not in _NOT_FLAGS:
            parser.add_argument(
                "--" + f.name.replace("_", "-"),
                dest=f.name,
                help=_HELP.get(f.name, f"see docs/operations.md ({f.name})"),
            )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return _parser("optin-collector", "Receive opt-in feedback reports into DuckDB.").parse_args(argv)


def config_from(args: argparse.Namespace) -> Config:
    flags = {f.name: getattr(args, f.name, None) for f in fields(Config) if f.name not in _NOT_FLAGS}
    return load_config(args.config, **flags)


async def serve(config: Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C still raises KeyboardInterrupt
            loop.add_signal_handler(sig, stop.set)
    try:
        runner = await start(config)
    except OSError as error:  # e.g. the port is taken: say so and exit non-zero, after closing the store
        log.error("cannot listen (%s)", error.strerror or type(error).__name__, extra={"event": "listen_failed"})
        raise SystemExit(1) from None
    ports = [addr[1] for addr in runner.addresses if isinstance(addr, tuple)]
    log.info(
        "ready", extra={"event": "ready", "port": ports[0] if ports else config.port, "db": config.resolved_db().name}
    )
    try:
        await stop.wait()
    finally:
        log.info("stopping", extra={"event": "stopping"})
        await runner.cleanup()  # stops accepting, finishes requests, drains and commits the store
        log.info("stopped", extra={"event": "stopped"})


def snapshot(argv: list[str]) -> int:
    parser = _parser(
        "optin-collector snapshot", "Write a Parquet snapshot (partitioned by day) of the collector's database."
    )
    parser.add_argument("--url", help="ask the collector running at this URL instead of opening the database file")
    args = parser.parse_args(argv)
    config = config_from(args)
    if args.url:
        request = urllib.request.Request(
            args.url.rstrip("/") + "/v1/snapshots", method="POST", headers={"Authorization": f"Bearer {config.token}"}
        )
        with urllib.request.urlopen(request, timeout=600) as answer:
            print(answer.read().decode())
        return 0
    if config.snapshot_dir is None:
        parser.error("--snapshot-dir (or snapshot_dir in the config file) is required")
    try:
        con = duckdb.connect(str(config.resolved_db()), read_only=True)
    except duckdb.IOException:
        print(
            "the database is held by a running collector: use --url (and the token) to ask it for a snapshot",
            file=sys.stderr,
        )
        return 2
    try:
        info = write_snapshot(con, config.snapshot_dir)
    finally:
        con.close()
    print(orjson.dumps({"snapshot": str(info.path), "reports": info.reports, "days": info.days}).decode())
    return 0


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    os.umask(0o077)  # every file this process creates (database, WAL, snapshots) is private: 0600 / 0700
    if argv[:1] == ["snapshot"]:
        raise SystemExit(snapshot(argv[1:]))
    try:
        config = config_from(parse_args(argv))
    except ValueError as error:  # a setting out of range: say which, and do not start
        print(f"optin-collector: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    configure(config.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config))


if __name__ == "__main__":
    main()
