"""optin collector: receives reports over HTTP, validates them against registries, stores them in DuckDB."""

from ._app import create_app
from ._config import Config, load_config
from ._thread import CollectorThread

__all__ = [
    "CollectorThread",
    "Config",
    "create_app",
    "load_config",
]
