"""record → enqueue: the period's values on disk, the client's counters, and the period's one report.

`Reports` belongs to one `Feedback` and reads its consent state; it never decides consent.
`roll` adds what the recorder holds to the open period on disk (`_period.py`) and, once the
period has ended, builds the period's report from it and persists it in the queue. It runs on
the worker thread at each pass (so a crash loses at most one pass's values) and at `close`.
"""

from __future__ import annotations

import orjson

from optin.contract import CLIENT_COUNTERS, MAX_COUNTER

from ._log import debug

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final

    from optin.contract import Value

    from ._facts import FactsProvider
    from ._feedback import Feedback
    from ._period import OpenPeriod

PREVIEW_INSTALLATION_ID: Final = "00000000-0000-4000-8000-000000000000"  # shown in previews before any id exists


class Reports:
    """The report-building stage of one `Feedback`: facts, client counters, the open period, the report."""

    def __init__(self, owner: Feedback, facts: FactsProvider | None, period_s: int) -> None:
        self._owner = owner
        self.period_s = period_s
        self.period_start = owner.now()
        self.counters = dict.fromkeys(CLIENT_COUNTERS, 0)
        self._facts_provider = facts
        self._facts: dict[str, object] | None = None

    # --- system facts and client counters ------------------------------------------------------

    def facts(self) -> dict[str, object]:
        """The coarsened system facts, collected once per process (psutil runs on the worker thread)."""
        if self._facts is None:
            try:
                if self._facts_provider is None:
                    from ._facts import collect_system_facts

                    self._facts = dict(collect_system_facts())
                else:
                    self._facts = dict(self._facts_provider())
            except Exception:
                debug("optin: system facts unavailable")
                self._facts = {}
        return self._facts

    def add_counters(self, increments: Mapping[str, int]) -> None:
        """Losses not yet in any report; kept on disk so that they reach the collector across restarts."""
        for name, count in increments.items():
            self.counters[name] += count
        self._save_counters()

    def _save_counters(self) -> None:
        from . import _counts

        try:
            _counts.save(self._owner.paths.counters_file, self._owner.state.installation_id, self.counters)
        except OSError:
            debug("optin: could not save the client counters")

    def resume(self) -> None:
        """Recording (re)starts: the counters and the open period of this installation are picked up."""
        from . import _counts, _period

        owner = self._owner
        installation = owner.state.installation_id
        self.counters = _counts.load(owner.paths.counters_file, installation) or dict.fromkeys(CLIENT_COUNTERS, 0)
        carried = _period.load(owner.paths.period_file)
        now = owner.now()
        if carried is not None and carried.installation_id == installation and now < self.period_end(carried.start):
            self.period_start = carried.start
        else:
            self.period_start = now

    def forget(self) -> None:
        """Recording stopped for good (turned off): nothing counted so far belongs to any report."""
        self.counters = dict.fromkeys(CLIENT_COUNTERS, 0)

    def period_end(self, start: int | None = None) -> int:
        return ((self.period_start if start is None else start) // self.period_s + 1) * self.period_s

    # --- the period's report ---------------------------------------------------------------------

    def roll(self, final: bool = False) -> None:
        """Add what was recorded to the open period; once it has ended, queue its report durably.

        ``final``: at exit, where another process (the `optin` command) may have erased this
        installation meanwhile: its values are then never persisted.
        """
        from . import _period
        from ._period import OpenPeriod
        from ._recorder import Recorder

        owner = self._owner
        with owner.lock:
            if final:
                owner.sync_consent()
            recorder, installation = owner.recorder, owner.state.installation_id
            if not owner.is_on or not isinstance(recorder, Recorder) or installation is None:
                return
            path = owner.paths.period_file
            try:
                with _period.locked(path):
                    now = owner.now()
                    carried = _period.load(path)
                    if carried is not None and carried.installation_id != installation:
                        carried = None  # an erased installation's: never carried into this one
                    closed_until = carried.closed_until if carried is not None else 0
                    # Values of a period another process (or an earlier run) has reported join the next one.
                    self.period_start = max(self.period_start, closed_until)
                    if carried is not None and not carried.is_open:
                        carried = None
                    if carried is not None and self._index(carried.start) < self._index(self.period_start):
                        closed_until = self._close(carried)  # an earlier start's period: it has ended
                        carried = None
                    if carried is None:
                        carried = OpenPeriod.new(installation, self.period_start, closed_until)
                    taken = recorder.drain()  # recorded since the last roll: in the period in memory
                    _period.merge(owner.registry, carried.values, taken.values)
                    carried.dropped += taken.dropped
                    if now >= self.period_end(carried.start):
                        closed_until = self._close(carried)  # the first roll after the period's end sends it
                        _period.save(path, OpenPeriod.closed(installation, closed_until))
                        self.period_start = max(closed_until, self._index(now) * self.period_s)
                    else:
                        _period.save(path, carried)
                        self.period_start = carried.start
            except OSError:
                debug("optin: could not persist the period's values")
                self.add_counters({"dropped": 1})

    def _index(self, when: int) -> int:
        return when // self.period_s

    def _close(self, period: OpenPeriod) -> int:
        """Queue the ended period's report under its reserved id (once: a crash may have queued it already);
        returns the period's end."""
        from ._queue import report_id_of

        queue = self._owner.queue
        end = self.period_end(period.start)
        if any(report_id_of(path) == period.report_id for path in queue.pending()):
            return end
        try:
            body = self.build(
                period.installation_id, (period.start, end), period.values, period.dropped, period.report_id
            )
        except ValueError:  # cannot happen with checked values; never let it stop the thread
            debug("optin: a report failed its own check")
            return end
        self.counters = dict.fromkeys(CLIENT_COUNTERS, 0)  # now carried by the report (and by its eviction)
        self._save_counters()
        self.add_counters(queue.put(period.report_id, body))
        return end

    def build(
        self,
        installation_id: str,
        period: tuple[int, int],
        values: Mapping[str, Value],
        dropped: int,
        report_id: str | None = None,
    ) -> bytes:
        """The report's JSON: only agreed categories, counts capped, the client's counters (capped too)."""
        from . import _period
        from ._assemble import assemble

        owner = self._owner
        registry = owner.registry
        values, over = _period.capped(registry, values)
        counters = dict(self.counters)
        counters["dropped"] += dropped + over
        return assemble(
            registry,
            installation_id=installation_id,
            app_version=owner.app_version,
            categories=owner.state.categories or tuple(registry.categories),
            period=period,
            values=values,
            facts=self.facts(),  # type: ignore[arg-type]
            client_counters={name: min(count, MAX_COUNTER) for name, count in counters.items()},
            sent_at=period[1],
            report_id=report_id,
        ).to_json()

    def preview(self) -> bytes:
        """The exact JSON the next report will contain if the period ended now (indented)."""
        from . import _period
        from ._recorder import Recorder

        owner = self._owner
        with owner.lock:
            now = owner.now()
            recorder, installation = owner.recorder, owner.state.installation_id
            start, dropped = now, 0
            values: dict[str, Value] = {}
            if owner.is_on and isinstance(recorder, Recorder) and installation is not None:
                carried = _period.load(owner.paths.period_file)
                if carried is not None and carried.installation_id == installation:
                    start, values, dropped = carried.start, carried.values, carried.dropped
                else:
                    start = self.period_start
                taken = recorder.peek()
                _period.merge(owner.registry, values, taken.values)
                dropped += taken.dropped
            else:
                installation = PREVIEW_INSTALLATION_ID
            body = self.build(installation, (min(start, now), now), values, dropped)
            return orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
