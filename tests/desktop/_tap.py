"""A TCP forwarder in front of the collector that counts connections and keeps what clients sent.

It observes the app from outside, the way a network monitor would: the app is only told an
endpoint URL, and every byte it sends passes through here on its way to the real collector.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
from dataclasses import dataclass

from tests.helpers import serve_connections


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: bytes  # decompressed when it was sent gzip-encoded


class Tap:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port  # may be changed between app runs (collector restarted)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sent: list[bytearray] = []  # what each connection's client sent, in arrival order
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(
            target=serve_connections, args=(self._listener, self._forward), name="tap-accept", daemon=True
        )
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._sent)

    def requests(self) -> list[Request]:
        """Every HTTP request the clients sent so far (a connection may carry several)."""
        with self._lock:
            raw = [bytes(b) for b in self._sent]
        return [request for data in raw for request in parse_requests(data)]

    def _forward(self, client: socket.socket) -> None:
        with self._lock:
            record = bytearray()
            self._sent.append(record)
        thread = threading.Thread(target=self._serve, args=(client, record), name="tap-conn", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _serve(self, client: socket.socket, record: bytearray) -> None:
        with client, socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30) as upstream:
            back = threading.Thread(target=_pump, args=(upstream, client, None), daemon=True)
            back.start()
            _pump(client, upstream, record, self._lock)
            back.join(30)

    def close(self) -> None:
        self._listener.close()
        for thread in self._threads:
            thread.join(5)


def _pump(
    source: socket.socket, target: socket.socket, record: bytearray | None, lock: threading.Lock | None = None
) -> None:
    try:
        while chunk := source.recv(65536):
            if record is not None and lock is not None:
                with lock:
                    record += chunk
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


def parse_requests(data: bytes) -> list[Request]:
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        body, data = rest[:length], rest[length:]
        if headers.get("content-encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        out.append(Request(method, path, body))
    return out
