"""The event loop every collector process runs on: uvloop where it is installed, asyncio's own elsewhere.

uvloop (libuv under the asyncio API) cuts the CPU an HTTP worker spends per request in the
loop and the transports, which is most of what a worker does besides the report check; it has
no Windows build, and the loop is chosen only here, so everything runs the same on either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """ "uvloop" or "asyncio" (for the log line each process writes when it starts)."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on the loop `loop_factory` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
