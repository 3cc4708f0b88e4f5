"""python -m optin.collector: run the collector until SIGINT or SIGTERM, then drain and commit."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from ._app import start
from ._config import Config, load_config
from ._logs import configure

log = logging.getLogger("optin.collector")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="optin-collector", description="Receive opt-in feedback reports into DuckDB.")
    parser.add_argument("--config", type=Path, help="TOML file of settings (see docs/operations.md)")
    parser.add_argument("--db", type=Path, help="DuckDB file (default: a file in the user data folder)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int, help="0 picks a free port; the chosen one is logged")
    parser.add_argument("--registries", type=Path, help="folder of application registries (*.toml)")
    parser.add_argument("--token-file", type=Path, help="file holding the analysis token")
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--log-level")
    return parser.parse_args(argv)


async def serve(config: Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows: Ctrl+C still raises KeyboardInterrupt
            pass
    runner = await start(config)
    ports = [addr[1] for addr in runner.addresses if isinstance(addr, tuple)]
    log.info("ready", extra={"event": "ready", "port": ports[0] if ports else config.port, "db": config.resolved_db().name})
    try:
        await stop.wait()
    finally:
        log.info("stopping", extra={"event": "stopping"})
        await runner.cleanup()  # stops accepting, finishes requests, drains and commits the store
        log.info("stopped", extra={"event": "stopped"})


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = load_config(
        args.config,
        db=args.db,
        host=args.host,
        port=args.port,
        registries=args.registries,
        token_file=args.token_file,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        log_level=args.log_level,
    )
    configure(config.log_level)
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
