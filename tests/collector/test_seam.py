"""`WorkerCore.copy_in_flight`: a copy of a report that another request is journaling waits for it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from optin.collector._config import Config
from optin.collector._seam import WorkerCore
from optin.contract import Registry


class Failed(Exception):
    pass


def _core(registry: Registry) -> WorkerCore:
    return WorkerCore(Config(), {(registry.app, registry.version): registry}, "w0")


async def _copy_of_one_on_its_way(
    core: WorkerCore, on_the_way: dict[str, asyncio.Future[Any]]
) -> tuple[asyncio.Future[None], asyncio.Task[bool]]:
    """Report "a" on its way to the journal (its record's future) and a copy of it waiting on it."""
    first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    on_the_way["a"] = first
    copy = asyncio.create_task(core.copy_in_flight(on_the_way, "a", Failed))
    await asyncio.sleep(0)
    return first, copy


def test_a_copy_is_a_duplicate_once_the_first_is_stored_and_journals_itself_when_the_first_failed(
    registry: Registry,
) -> None:
    async def run() -> tuple[bool, bool, int]:
        core = _core(registry)
        on_the_way: dict[str, asyncio.Future[Any]] = {}
        stored, copy = await _copy_of_one_on_its_way(core, on_the_way)
        stored.set_result(None)
        duplicate = await copy
        failing, again = await _copy_of_one_on_its_way(core, on_the_way)
        failing.set_exception(Failed())
        del on_the_way["a"]  # (the first request's `finally`)
        return duplicate, await again, core.stats.duplicates

    assert asyncio.run(run()) == (True, False, 1)


def test_a_copy_journals_itself_when_the_first_request_was_cancelled_but_not_when_it_is_cancelled_itself(
    registry: Registry,
) -> None:
    async def run() -> tuple[bool, bool]:
        core = _core(registry)
        on_the_way: dict[str, asyncio.Future[Any]] = {}
        first, copy = await _copy_of_one_on_its_way(core, on_the_way)
        first.cancel()  # the first request's task was cancelled while it awaited its record
        del on_the_way["a"]
        journals_itself = not await copy
        waiting, cancelled = await _copy_of_one_on_its_way(core, on_the_way)
        cancelled.cancel()  # the copy's own request is cancelled: that propagates, the first is untouched
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        return journals_itself, waiting.cancelled()

    assert asyncio.run(run()) == (True, False)
