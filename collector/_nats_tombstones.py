"""Tombstones of stateless collectors: a JetStream key-value bucket that every collector follows.

In the single-machine layout confirmed deletions live in a file beside the database (`_tombstones`).
Collectors on several machines share them through the bucket `<nats_stream>-deleted` instead: one
key per installation id (a canonical UUID), an empty value, nothing else (no time, no address);
replicated as the stream is, never expiring, as the file is kept as long as the database.

A collector answers a deletion 202 only once the cluster acknowledged the key (then it publishes
the deletion to the stream), and refuses reports of ids it holds with 410 `installation_deleted`.
The other collectors learn of the key through a watcher, within milliseconds. A report that
reaches one of them in that moment is published after the deletion; the loader, which applies
the stream in order and keeps tombstones of its own beside the database, drops it and counts it
`installation_deleted`. Either way nothing of an installation is stored after its deletion.

The seam is `_seam.DeletedIds`: `contains(id)`, `refresh()` (nothing to do: the watcher keeps
the set current), `add(id)` (blocking, from a thread: it waits for the cluster's acknowledgement).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Final

import nats.errors
from nats.js import JetStreamContext, api as js_api
from nats.js.kv import KeyValue

from ._config import Config

log = logging.getLogger("optin.collector")

PUT_TIMEOUT_S: Final = 10.0


def tombstone_bucket(config: Config) -> str:
    return f"{config.nats_stream}-deleted"


async def ensure_bucket(js: JetStreamContext, config: Config) -> KeyValue:
    """The bucket (created with the stream's replicas when missing)."""
    return await js.create_key_value(
        js_api.KeyValueConfig(bucket=tombstone_bucket(config), history=1, replicas=config.nats_replicas)
    )


class StreamTombstones:
    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._kv: KeyValue | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.loaded = False  # every key the bucket held when the watch began has been read

    def __len__(self) -> int:
        return len(self._ids)

    def contains(self, installation_id: str) -> bool:
        return installation_id in self._ids

    def refresh(self) -> None:
        """Nothing to read: the watcher adds what other collectors confirm as it arrives."""

    async def follow(self, kv: KeyValue) -> None:
        """Event loop, for the collector's life: read every key, then each new one (reconnects are the client's)."""
        self._kv, self._loop = kv, asyncio.get_running_loop()
        watcher = await kv.watchall(ignore_deletes=True, meta_only=True)
        try:
            async for entry in watcher:
                if entry is None:  # the keys there were at the start have all come
                    self.loaded = True
                    log.info("tombstones loaded", extra={"event": "tombstones_loaded", "count": len(self._ids)})
                    continue
                self._ids.add(entry.key)
        finally:
            self.loaded = False
            await watcher.stop()  # type: ignore[no-untyped-call]

    def add(self, installation_id: str) -> None:
        """Another thread: record a confirmed deletion in the bucket; OSError when the cluster did not acknowledge it.

        Refusal starts here at once, before the put: if it fails, the deletion is not confirmed and
        the client sends it again, and this collector refuses the id's reports meanwhile.
        """
        key = str(uuid.UUID(installation_id))  # only ever a canonical UUID
        self._ids.add(key)
        kv, loop = self._kv, self._loop
        if kv is None or loop is None:
            raise OSError("the tombstone bucket is not reachable")
        try:
            asyncio.run_coroutine_threadsafe(kv.put(key, b""), loop).result(PUT_TIMEOUT_S)
        except (nats.errors.Error, TimeoutError) as error:
            raise OSError(f"tombstone not stored ({type(error).__name__})") from None
