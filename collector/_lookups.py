"""The loader's answers to "is this report id stored?", asked by workers for ids the filters call "maybe".

A retry storm (clients sending reports again after a lost answer, or a hostile client replaying
its own ids) asks many of these at once. Each answer needs the loader to have loaded what is
journaled (a copy another worker journaled is found) and a lookup that scans the stored ids, so
the questions that arrive while one batch is being answered are answered together by the next:
one load round and one query for all of them, however many there are. Ids found stored are
remembered (a bounded set, newest kept): asked again, they are answered from memory. Only
deletions take stored reports away, and a worker refuses a deleted installation's reports before
it asks (410); the set is still emptied after any deletion, and a lookup that overlapped one
adds nothing to it, so it never says "stored" for a report that is gone.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Final

from ._errors import Unavailable
from ._loader import Loader

KNOWN_IDS: Final = 1 << 16  # ids found stored, remembered


class StoredLookups:
    def __init__(self, loader: Loader, timeout_s: float) -> None:
        self.loader = loader
        self.timeout_s = timeout_s
        self._asked: dict[str, list[asyncio.Future[bool]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._known: dict[str, None] = {}
        self._deletions = loader.stats.deletions

    async def stored(self, report_id: str) -> bool:
        self.loader.stats.lookup_ids += 1
        if self._deletions != self.loader.stats.deletions:
            self._known.clear()
            self._deletions = self.loader.stats.deletions
        if report_id in self._known:
            return True
        if not _canonical(report_id):
            return False  # never stored (every stored id passed the check), and no lookup fails on it
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._asked.setdefault(report_id, []).append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._answer(), name="optin-stored-lookups")
        return await future

    async def _answer(self) -> None:
        while self._asked:
            asked, self._asked = self._asked, {}
            try:
                if not self.loader.running:
                    raise Unavailable(detail="storage is not open; retry later")
                try:  # a copy journaled by another worker is loaded first
                    await asyncio.wait_for(asyncio.wrap_future(self.loader.caught_up()), self.timeout_s)
                except TimeoutError:
                    raise Unavailable("query_timeout", "the loader is behind; retry later") from None
                deletions = self.loader.stats.deletions
                found = await asyncio.to_thread(self.loader.stored_among, list(asked))
                self.loader.stats.lookups += 1
            except Exception as error:
                for futures in asked.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(error)
                continue
            for report_id, futures in asked.items():
                for future in futures:
                    if not future.done():
                        future.set_result(report_id in found)
            if self.loader.stats.deletions == deletions:  # (a deletion meanwhile: found ids may be gone)
                self._remember(found)

    def _remember(self, found: set[str]) -> None:
        known = self._known
        for report_id in found:
            known[report_id] = None
        while len(known) > KNOWN_IDS:
            del known[next(iter(known))]


def _canonical(report_id: str) -> bool:
    try:
        return str(uuid.UUID(report_id)) == report_id
    except ValueError:
        return False
