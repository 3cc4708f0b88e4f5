"""python -m optin.collector: run the collector (loader + workers) until SIGINT or SIGTERM, then drain and load.

`python -m optin.collector snapshot ...` writes a Parquet snapshot on demand: from the database
file when no collector holds it, or by asking a running collector (`--url`, with the token).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import urllib.request
from dataclasses import fields
from pathlib import Path

import orjson

from ._config import Config, load_config
from ._logs import configure
from ._processes import supervise

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
    import duckdb  # only here: the command's other processes (workers) never load DuckDB

    from ._snapshot import write_snapshot

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


def loader(argv: list[str]) -> int:
    """The loader of a NATS JetStream stream, alone (the collectors run elsewhere with the same --journal)."""
    parser = _parser("optin-collector loader", "Load a NATS JetStream stream of reports into DuckDB (one per stream).")
    config = config_from(parser.parse_args(argv))
    if not config.uses_nats():
        parser.error("--journal nats://HOST:PORT is required (with the file journal the collector runs its own loader)")
    configure(config.log_level)
    from ._nats_service import run_loader

    return run_loader(config)


def cluster(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="optin-collector cluster",
        description="A local JetStream cluster on 127.0.0.1 with stateless collectors and one loader (development).",
    )
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8080, help="the collectors' port")
    parser.add_argument("--dir", type=Path, default=Path("optin-cluster"), help="the nodes' data and the database")
    args = parser.parse_args(argv)
    from ._cluster import run_cluster

    return run_cluster(args.dir.resolve(), args.nodes, args.workers, args.port, args.dir.resolve() / "optin.duckdb")


def import_reports(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="optin-collector import",
        description="Post the reports of a file written by `optin export` (a computer without a network) to a "
        "running collector, which checks each like any report.",
    )
    parser.add_argument("file", type=Path, help="the file `optin export` wrote")
    parser.add_argument("--url", required=True, help="the running collector, e.g. http://127.0.0.1:8080")
    args = parser.parse_args(argv)
    from ._import import import_file

    return import_file(args.file, args.url)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    os.umask(0o077)  # every file this process creates (database, WAL, snapshots) is private: 0600 / 0700
    if argv[:1] == ["snapshot"]:
        raise SystemExit(snapshot(argv[1:]))
    if argv[:1] in (["loader"], ["cluster"]):
        try:
            raise SystemExit((loader if argv[0] == "loader" else cluster)(argv[1:]))
        except ValueError as error:
            print(f"optin-collector: {error}", file=sys.stderr)
            raise SystemExit(2) from None
    if argv[:1] == ["import"]:
        raise SystemExit(import_reports(argv[1:]))
    try:
        config = config_from(parse_args(argv))
    except ValueError as error:  # a setting out of range: say which, and do not start
        print(f"optin-collector: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    configure(config.log_level)
    raise SystemExit(supervise(config))


if __name__ == "__main__":
    main()
