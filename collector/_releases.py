"""The collector's call into the release job (SPEC §4a): where the read-write connection lives.

`optin.analysis.run_releases` is a plain function over a DuckDB connection; the collector runs it
on its writer thread (in a transaction of its own) on the maintenance schedule and on
`POST /v1/releases`. Whichever process owns the database calls it the same way.
"""

from __future__ import annotations

import datetime as dt
import logging

from aiohttp import web

from optin.analysis import ReleaseRun, run_releases

from ._keys import CLOCK, CONFIG, REGISTRIES, STORE

log = logging.getLogger("optin.collector")
RELEASES_PER_TURN = 12  # about one period's questions: a short hold of the writer


async def release_due(app: web.Application) -> ReleaseRun:
    """Make every due release now (periods closed plus the grace), charging the ledger; refusals are logged
    by the job (event ``release_refused``) and recorded in ``release_refusals``."""
    config, registries = app[CONFIG], app[REGISTRIES]
    today = dt.datetime.fromtimestamp(app[CLOCK](), dt.UTC).date()

    made = refused = 0
    while True:  # a few releases per turn of the writer: reports keep being committed in between
        result = await app[STORE].run(
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
