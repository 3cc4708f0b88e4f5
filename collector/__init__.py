"""optin collector: receives reports over HTTP, checks them against registries, journals them, loads them into DuckDB.

Public names load on first use: a worker process imports neither DuckDB nor Arrow.
"""

from __future__ import annotations

from optin.contract import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._app import create_app
    from ._config import Config, load_config
    from ._thread import CollectorThread

__all__ = [
    "CollectorThread",
    "Config",
    "create_app",
    "load_config",
]

__getattr__, __dir__ = lazy_exports(
    __name__, {"_app": ("create_app",), "_config": ("Config", "load_config"), "_thread": ("CollectorThread",)}
)
