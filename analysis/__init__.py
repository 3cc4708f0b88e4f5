"""optin analysis: aggregate-only questions over collected feedback, with small cells suppressed."""

from ._gateway import DEFAULT_K, Gateway, Table
from ._questions import Window, active_installations, feature_usage, os_share, os_version_share, version_adoption
from ._render import render_table
from ._source import day_range, open_database

__all__ = [
    "DEFAULT_K",
    "Gateway",
    "Table",
    "Window",
    "active_installations",
    "day_range",
    "feature_usage",
    "open_database",
    "os_share",
    "os_version_share",
    "render_table",
    "version_adoption",
]
