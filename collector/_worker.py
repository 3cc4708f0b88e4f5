"""An HTTP worker: reads a body, checks it, appends it to its own journal, answers once it is on disk.

Workers never touch DuckDB. They learn the loader's state from a heartbeat every
HEARTBEAT_S (sending their counters the other way): whether it is ready, and how far it has
loaded this worker's journal, which bounds the journal (503 with Retry-After when the loader is
more than max_unloaded_bytes behind). Requests that read the database are proxied to the loader.

A report id this worker has journaled (in this life) is answered 200 as a duplicate; a copy
that arrives while the first is still waiting for its group's fdatasync waits for it, so a 200
is never sent for something that is not on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson

from optin.contract import CheckedReport, Registry

from . import _records as rec
from ._config import Config
from ._errors import Unavailable
from ._journal import JournalUnavailable, JournalWriter
from ._seam import WorkerCore
from ._seen import SEEN_SUFFIX, SeenIds, SeenView
from ._tombstones import Tombstones, tombstones_path

log = logging.getLogger("optin.collector")

HEARTBEAT_S: Final = 0.2
FRESH_S: Final = 2.0  # the loader's last answer counts for this long (healthz)
RECENT_IDS: Final = 1 << 20  # report ids remembered per worker for the 200-for-duplicate answer
SECRET_HEADER: Final = "X-Optin-Internal"
PORT_FILE: Final = "loader.json"


class Worker(WorkerCore):
    def __init__(
        self,
        config: Config,
        registries: Mapping[tuple[str, int], Registry],
        name: str,
        journal_root: Path,
        secret: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config, registries, name, clock)
        self.root = journal_root
        self.secret = secret
        self.journal = JournalWriter(
            journal_root / name,
            config.segment_bytes,
            config.batch_max_wait_ms / 1000,
            config.max_pending_reports,
            rec.encode_metrics(self.checker.metric_names, dict(registries)),
        )
        # Confirmed deletions: a report of such an id is refused (410); shared with the other workers
        # and the loader through one file beside the database, re-read when its shared counter moves.
        self.tombstones = Tombstones(tombstones_path(config.resolved_db()))
        self.reply: dict[str, Any] | None = None
        self.reply_at = -1e9
        self._journaling: dict[str, asyncio.Future[None]] = {}
        self._recent: dict[str, None] = {}
        # Filters of report ids: the loader's (stored) and every worker's (journaled), all files in the
        # journal folder; this worker writes its own and maps the others read-only.
        self.mine = SeenIds((), 0)  # in memory until start() makes the file
        self.views: dict[str, SeenView] = {}
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._port = 0

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, wait_for_loader_s: float = 60.0) -> None:
        self.journal.open(asyncio.get_running_loop())
        self.mine = self._new_filter()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.aggregate_timeout_s + 5))
        deadline = time.monotonic() + wait_for_loader_s
        while not await self.heartbeat() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(self._load_tombstones)  # before the first request is served
        self._task = asyncio.create_task(self._beat(), name="optin-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self.journal.close)
        await self.heartbeat()  # the last counts and rejections
        self.mine.close()
        if self._session is not None:
            await self._session.close()

    # --- ingest ------------------------------------------------------------------------------

    async def admit(self) -> None:
        """Raise Unavailable unless the loader is ready and not too far behind this worker's journal.

        Before refusing on a heartbeat answer older than one heartbeat, ask the loader again: the
        other workers may already know it recovered.
        """
        if (self.reply is None or not self.reply["ready"]) and time.monotonic() - self.reply_at > HEARTBEAT_S:
            await self.heartbeat()
        reply = self.reply
        if reply is None or not reply["ready"]:
            raise Unavailable(detail="storage is not open; retry later")
        position = reply["position"]
        seq, offset = position if position else (0, 0)
        unloaded = self.journal.unloaded_bytes(seq, offset)
        if unloaded > self.config.max_unloaded_bytes:
            raise Unavailable("loader_behind", "the collector is catching up; retry later")

    async def journal_report(self, report: CheckedReport, received_s: int) -> bool:
        """Journal a report; False when its id was journaled already (a duplicate, answered 200)."""
        report_id = report.report_id
        if report_id in self._journaling and await self.copy_in_flight(self._journaling, report_id, JournalUnavailable):
            return False
        if report_id in self._recent or (self._seen_elsewhere(report_id) and await self._stored(report_id)):
            self.stats.duplicates += 1
            return False
        future = self._append(rec.encode_report(report, received_s))
        self._journaling[report_id] = future
        try:
            await self._settled(future)
        finally:
            del self._journaling[report_id]
        if self.mine.full:
            self.mine.close()
            self.mine = self._new_filter()
        self.mine.add(report_id)
        recent = self._recent
        recent[report_id] = None
        if len(recent) > RECENT_IDS:
            del recent[next(iter(recent))]
        self.stats.accepted += 1
        return True

    def _seen_elsewhere(self, report_id: str) -> bool:
        """Whether the loader's filter or another worker's calls the id "maybe"."""
        for view in self.views.values():  # noqa: SIM110 (a loop, not any(): no generator per report)
            if view.maybe(report_id):
                return True
        return False

    def _new_filter(self) -> SeenIds:
        """This worker's filter file of journaled ids (the other workers map it)."""
        return SeenIds((), RECENT_IDS, self.root / f"{self.name}{SEEN_SUFFIX}")

    async def journal_deletion(self, installation_id: str, received_s: int) -> None:
        await self._settled(self._append(rec.encode_deletion(installation_id, received_s)))
        self.stats.deletions += 1

    async def _stored(self, report_id: str) -> bool:
        """Ask the loader about a "maybe" of the filters; if it cannot say, journal (it stores once)."""
        try:
            status, _, body = await self.proxy("GET", f"/internal/stored/{report_id}", {})
        except Unavailable:
            return False
        return status == 200 and bool(orjson.loads(body)["stored"])

    def _append(self, payload: bytes) -> asyncio.Future[None]:
        try:
            return self.journal.append(payload)
        except JournalUnavailable as error:
            raise Unavailable(detail=f"{error}; retry later") from None

    async def _settled(self, future: asyncio.Future[None]) -> None:
        # Awaited directly, not through shield(): aiohttp does not cancel a handler whose client went
        # away, and if one is cancelled at shutdown the record's future goes with it; the record is
        # written all the same, and a copy waiting on it journals itself (copy_in_flight; the loader
        # stores the report once).
        try:
            await future
        except JournalUnavailable as error:
            code = "disk_full" if str(error) == "ENOSPC" else "unavailable"
            # The loader hears of the failing journal before the 503 goes out, so every worker's
            # /healthz says degraded from then on (not only at this worker's next heartbeat).
            await self.heartbeat()
            raise Unavailable(code, "not stored; retry later") from None

    @property
    def healthy(self) -> bool:
        return (
            self.reply is not None
            and bool(self.reply["healthy"])
            and time.monotonic() - self.reply_at < FRESH_S
            and self.journal.healthy
        )

    # --- the loader --------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        if not self._port:
            try:
                self._port = int(orjson.loads((self.root / PORT_FILE).read_bytes())["port"])
            except (OSError, ValueError, KeyError):
                raise aiohttp.ClientConnectionError("the loader has not said where it listens") from None
        return f"http://127.0.0.1:{self._port}{path}"

    async def heartbeat(self) -> bool:
        """Send counters and rejection counts, take the loader's state; False if it did not answer."""
        assert self._session is not None
        stats = self.stats
        stats.in_flight = self.in_flight.count
        stats.journal, stats.journal_healthy = self.journal.stats, self.journal.healthy
        position = self.reply["position"] if self.reply and self.reply["position"] else (0, 0)
        stats.unloaded_bytes = self.journal.unloaded_bytes(*position)
        sent = self._rejections
        self._rejections = Counter()
        by_day: dict[str, dict[str, int]] = {}
        for (day, reason), count in sent.items():
            by_day.setdefault(day, {})[str(reason)] = count
        body = orjson.dumps({"journal": self.name, "pid": os.getpid(), "stats": stats.to_json(), "rejections": by_day})
        try:
            async with self._session.post(
                self._url("/internal/heartbeat"), data=body, headers={SECRET_HEADER: self.secret}
            ) as answer:
                if answer.status != 200:
                    raise aiohttp.ClientConnectionError("heartbeat refused")
                reply = orjson.loads(await answer.read())
        except (aiohttp.ClientError, OSError, TimeoutError):
            self._port = 0  # the loader may have restarted on another port: read the file again
            self._rejections.update(sent)
            return False
        self.reply, self.reply_at = reply, time.monotonic()
        self._refresh_views()
        if reply["position"]:
            self.journal.forget(int(reply["position"][0]))
        return True

    def _refresh_views(self) -> None:
        try:
            names = [n for n in os.listdir(self.root) if n.endswith(SEEN_SUFFIX) and n != f"{self.name}{SEEN_SUFFIX}"]
        except OSError:
            return
        for name in names:
            self.views.setdefault(name, SeenView(self.root / name)).refresh()

    def _load_tombstones(self) -> None:
        self.tombstones.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.tombstones.load()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                self.tombstones.sync()  # lines appended by anything but add() too (one stat when nothing is new)
                await self.heartbeat()
            except Exception as error:  # never let the heartbeat die
                log.warning("heartbeat failed (%s)", type(error).__name__, extra={"event": "heartbeat_failed"})

    async def proxy(self, method: str, path_qs: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Forward a request that reads the database to the loader."""
        assert self._session is not None
        forward = {SECRET_HEADER: self.secret}
        if "Authorization" in headers:
            forward["Authorization"] = headers["Authorization"]
        try:
            async with self._session.request(method, self._url(path_qs), headers=forward) as answer:
                body = await answer.read()
                keep = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
                return answer.status, keep, body
        except (aiohttp.ClientError, OSError, TimeoutError):
            self._port = 0
            raise Unavailable(detail="the loader is not answering; retry later") from None


_HOP_HEADERS: Final = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server", "content-encoding"}
)
