"""Typed application state."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from optin.contract import Registry

from ._config import Config
from ._store import Store
from ._tombstones import Tombstones

CONFIG = web.AppKey("config", Config)
REGISTRIES = web.AppKey[Mapping[tuple[str, int], Registry]]("registries")
STORE = web.AppKey("store", Store)
IN_FLIGHT = web.AppKey("in_flight", list[int])  # one-element box: requests being read or checked
TOMBSTONES = web.AppKey("tombstones", Tombstones)  # installation ids whose deletion was confirmed
CLOCK = web.AppKey[Callable[[], float]]("clock")  # seconds since the epoch; a seam for simulations and tests
