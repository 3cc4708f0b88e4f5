"""Recording: aggregation per kind, bounds, thread safety; the do-nothing state."""

from __future__ import annotations

import threading

from optin.client._null import NotRecording
from optin.client._period import capped
from optin.client._recorder import Recorder
from optin.contract import Registry, check_value


def test_each_kind_aggregates_per_period_and_checks_its_values(registry: Registry) -> None:
    recorder = Recorder(registry)
    recorder.count("toolpath.pocket")
    recorder.count("toolpath.pocket", 4)
    recorder.count("file.import", 2, "step")
    recorder.count("file.import", 1, "dxf")
    recorder.flag("simulation.collision_check", False)
    recorder.flag("simulation.collision_check", True)
    recorder.flag("simulation.collision_check", False)  # "held during the period" stays true
    recorder.choose("ui.theme", "light")
    recorder.choose("ui.theme", "dark")  # the last value of the period
    recorder.quantity("model.part_count", 37)
    recorder.quantity("model.part_count", 4)  # the largest of the period, snapped down to its bucket
    recorder.duration("simulation.duration", 0.5)
    recorder.duration("simulation.duration", 45)
    recorder.duration("simulation.duration", 10_000)
    drained = recorder.drain()
    assert drained.values == {
        "toolpath.pocket": 5,
        "file.import": {"step": 2, "dxf": 1},
        "simulation.collision_check": True,
        "ui.theme": "dark",
        "model.part_count": 10,
        "simulation.duration": [1, 0, 0, 1, 0, 1],
    }
    assert drained.dropped == 0
    for name, value in drained.values.items():
        check_value(registry.metrics[name], value, name)  # what the collector will check
    assert recorder.drain().values == {}  # a new period starts empty


def test_peek_leaves_the_period_in_place(registry: Registry) -> None:
    recorder = Recorder(registry)
    recorder.count("edit.undo", 3)
    recorder.duration("session.length", 100)
    assert recorder.peek().values == recorder.peek().values == {"edit.undo": 3, "session.length": [0, 1, 0, 0, 0, 0]}
    assert recorder.drain().values["edit.undo"] == 3


def test_counts_above_the_declared_maximum_are_capped_and_counted_as_dropped(registry: Registry) -> None:
    recorder = Recorder(registry)
    limit = registry.metrics["session.usage_seconds"].max
    recorder.count("session.usage_seconds", limit + 10)
    drained = recorder.drain()  # summed as recorded: sessions of one period add up on disk before the cap
    assert drained.values["session.usage_seconds"] == limit + 10 and drained.dropped == 0
    values, over = capped(registry, drained.values)  # the report's values
    assert values["session.usage_seconds"] == limit and over == 1


def test_concurrent_recording_from_many_threads_loses_nothing(registry: Registry) -> None:
    recorder = Recorder(registry)
    threads, per_thread = 8, 20_000
    barrier = threading.Barrier(threads)

    def work() -> None:
        barrier.wait()
        for i in range(per_thread):
            recorder.count("sketch.line")
            recorder.count("post.run", 1, "fanuc" if i % 2 else "haas")

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    drained = recorder.drain()
    assert drained.values["sketch.line"] == threads * per_thread
    assert drained.values["post.run"] == {"fanuc": threads * per_thread // 2, "haas": threads * per_thread // 2}


def test_the_do_nothing_recorder_accepts_anything_and_keeps_nothing() -> None:
    null = NotRecording()
    null.count("anything", 5, "at all")
    null.flag("x")
    null.choose("x", "y")
    null.quantity("x", 1.0)
    null.duration("x", 1.0)
    assert not vars(null) if hasattr(null, "__dict__") else True
