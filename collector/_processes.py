"""The command line's process layout: one supervisor, one loader process, N worker processes.

The supervisor reserves the port (a bound, not listening, SO_REUSEPORT socket), starts the
loader, then the workers, each listening on that port with SO_REUSEPORT (the kernel spreads
connections over them), and logs `ready` once all are up. A child that dies is started again;
the children die with the supervisor (PR_SET_PDEATHSIG on Linux, and a check of the parent
process). On SIGTERM or SIGINT the workers stop first (finishing their requests and syncing
their journals), then the loader (which loads everything journaled, checkpoints and exits).
Where SO_REUSEPORT is missing (Windows), one worker serves the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Final

from ._config import Config
from ._disk import log_disk_at_start
from ._logs import LoopErrors, configure
from ._loop import loop_name, run as run_loop

log = logging.getLogger("optin.collector")

READY_TIMEOUT_S: Final = 120.0
RESTART_PAUSE_S: Final = 0.5
REUSE_PORT: Final = hasattr(socket, "SO_REUSEPORT") and sys.platform != "win32"


def _die_with_parent(parent: int) -> None:
    """A child of the supervisor never outlives it (kill -9 of the supervisor takes every process down)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="optin-parent-watch", daemon=True).start()


def _child(config: Config, parent: int, main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    os.umask(0o077)
    _die_with_parent(parent)
    configure(config.log_level)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(LoopErrors())  # e.g. accept errors under a flood: counted, rate-limited
        log.info(
            "running",
            extra={"event": "running", "role": multiprocessing.current_process().name, "loop": loop_name(loop)},
        )
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    try:
        run_loop(run())
    except Exception as error:  # one JSON line, never a traceback (it could quote request data)
        log.error(
            "%s stopped (%s)", multiprocessing.current_process().name, type(error).__name__, extra={"event": "crashed"}
        )
        raise SystemExit(1) from None


def loader_main(config: Config, secret: str, parent: int, ready: Connection) -> None:
    from ._control import LoaderService

    async def main(stop: asyncio.Event) -> None:
        service = LoaderService(config, secret)
        await service.start()
        ready.send(os.getpid())
        while not stop.is_set() and service.loader.alive:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        if not stop.is_set():  # the loading thread failed: exit, and the supervisor starts a new loader
            await service.stop()
            raise SystemExit(1)
        log.info("loader stopping", extra={"event": "stopping", "role": "loader", "pid": os.getpid()})
        await service.stop()
        log.info("loader stopped", extra={"event": "stopped", "role": "loader", "pid": os.getpid()})

    _child(config, parent, main)


def worker_main(config: Config, name: str, port: int, secret: str, parent: int, ready: Connection) -> None:
    from ._app import create_app, registries_of, runner_of, serve_worker  # no DuckDB in a worker
    from ._seam import IngestWorker
    from ._worker import Worker

    async def main(stop: asyncio.Event) -> None:
        registries = registries_of(config)
        worker: IngestWorker
        if config.uses_nats():  # stateless: publishes to the stream; the loader runs elsewhere
            from ._nats_worker import NatsWorker

            worker = NatsWorker(config, registries, name)
        else:
            worker = Worker(config, registries, name, config.journal_dir(), secret)
        runner = runner_of(create_app(config, worker=worker, registries=registries), config)
        await runner.setup()
        await serve_worker(runner, config, port, reuse_port=REUSE_PORT)
        ready.send(os.getpid())
        await stop.wait()
        log.info("worker stopping", extra={"event": "stopping", "role": "worker", "pid": os.getpid()})
        await runner.cleanup()
        log.info("worker stopped", extra={"event": "stopped", "role": "worker", "pid": os.getpid()})

    _child(config, parent, main)


@dataclass
class _Child:
    role: str  # "loader" or a worker's journal name
    process: multiprocessing.process.BaseProcess
    started: float


class Supervisor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.secret = secrets.token_hex(16)
        self.context = multiprocessing.get_context("spawn")
        self.children: dict[str, _Child] = {}
        self.port = 0
        self._hold: socket.socket | None = None

    def reserve_port(self) -> int:
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        hold = socket.socket(family, socket.SOCK_STREAM)
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if REUSE_PORT:
            hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        hold.bind((self.config.host, self.config.port))
        self._hold = hold
        self.port = hold.getsockname()[1]
        return self.port

    def _spawn(self, role: str) -> _Child:
        return self._ready(*self._start(role))

    def _start(self, role: str) -> tuple[str, multiprocessing.process.BaseProcess, Connection]:
        receive, send = self.context.Pipe(duplex=False)
        if role == "loader":
            target, args = loader_main, (self.config, self.secret, os.getpid(), send)
        else:
            target, args = worker_main, (self.config, role, self.port, self.secret, os.getpid(), send)  # type: ignore[assignment]
        process = self.context.Process(target=target, args=args, name=f"optin-{role}", daemon=False)
        process.start()
        send.close()
        return role, process, receive

    def _ready(self, role: str, process: multiprocessing.process.BaseProcess, receive: Connection) -> _Child:
        ready = multiprocessing.connection.wait([receive, process.sentinel], READY_TIMEOUT_S)
        if receive not in ready or not receive.poll():
            process.kill()
            process.join()
            raise RuntimeError(f"{role} did not start")
        receive.recv()
        receive.close()
        log.info(
            "started",
            extra={"event": "started", "role": "loader" if role == "loader" else "worker", "pid": process.pid},
        )
        child = self.children[role] = _Child(role, process, time.monotonic())
        return child

    def run(self, stop: threading.Event, wake_fd: int) -> None:
        names = [f"w{i}" for i in range(self.config.worker_count() if REUSE_PORT else 1)]
        # All start side by side; a worker waits for the loader's first answer before it says ready.
        roles = names if self.config.uses_nats() else ["loader", *names]  # with NATS the loader runs on its own
        for started in [self._start(name) for name in roles]:
            self._ready(*started)
        log.info("ready", extra={"event": "ready", "port": self.port, "db": self.config.resolved_db().name})
        while not stop.is_set():
            sentinels = {child.process.sentinel: child for child in self.children.values()}
            multiprocessing.connection.wait([*sentinels, wake_fd], timeout=1.0)
            with contextlib.suppress(BlockingIOError):
                os.read(wake_fd, 512)
            for child in list(self.children.values()):
                if stop.is_set() or child.process.exitcode is None:
                    continue
                log.warning(
                    "child exited; starting it again",
                    extra={"event": "restarted", "role": child.role, "status": child.process.exitcode},
                )
                if time.monotonic() - child.started < RESTART_PAUSE_S:
                    time.sleep(RESTART_PAUSE_S)
                with contextlib.suppress(RuntimeError):
                    self._spawn(child.role)
        self.shutdown()

    def shutdown(self) -> None:
        log.info("stopping", extra={"event": "stopping"})
        workers = [c.process for role, c in self.children.items() if role != "loader"]
        for group, timeout_s in (
            (workers, 40.0),
            ([c.process for r, c in self.children.items() if r == "loader"], 300.0),
        ):
            for process in group:
                if process.exitcode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid or 0, signal.SIGTERM)
            for process in group:
                process.join(timeout_s)
                if process.exitcode is None:
                    process.kill()
                    process.join()
        if self._hold is not None:
            self._hold.close()
        log.info("stopped", extra={"event": "stopped"})


def supervise(config: Config) -> int:
    log_disk_at_start(config.resolved_db(), config.min_free_bytes)  # "disk full" before any child fails on it
    supervisor = Supervisor(config)
    try:
        supervisor.reserve_port()
    except OSError as error:
        log.error("cannot listen (%s)", error.strerror or type(error).__name__, extra={"event": "listen_failed"})
        return 1
    stop = threading.Event()
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        with contextlib.suppress(OSError):
            os.write(write_fd, b"x")

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        supervisor.run(stop, read_fd)
    except RuntimeError as error:
        log.error("%s", error, extra={"event": "start_failed"})
        supervisor.shutdown()
        return 1
    return 0
