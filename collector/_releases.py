"""The collector's call into the release job (SPEC §4a): where the read-write connection lives.

`optin.analysis.run_releases` is a plain function over a DuckDB connection; the loader, which
owns the database, runs it on its own thread (a few releases per transaction, so loading goes on
in between) on the maintenance schedule and on `POST /v1/releases`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping

from optin.analysis import ReleaseRun, run_releases
from optin.contract import Registry

from ._config import Config
from ._loader import Loader

log = logging.getLogger("optin.collector")
RELEASES_PER_TURN = 12  # about one period's questions: a short hold of the loader


def release_due(
    loader: Loader, config: Config, registries: Mapping[tuple[str, int], Registry], clock: Callable[[], float]
) -> ReleaseRun:
    """Loader thread: make every due release now (periods closed plus the grace), charging the ledger.

    Refusals are logged by the job (event ``release_refused``) and recorded in ``release_refusals``.
    """
    today = dt.datetime.fromtimestamp(clock(), dt.UTC).date()
    made = refused = 0
    while True:
        result = loader.transaction(
            lambda con: run_releases(
                con, registries, today, config.privacy_budget_rho, config.release_grace_days, limit=RELEASES_PER_TURN
            )
        )
        assert isinstance(result, ReleaseRun)
        made, refused = made + result.made, refused + result.refused
        if not result.more:
            break
    log.info("releases", extra={"event": "releases", "count": made})
    return ReleaseRun(made, refused)
