"""optin analysis: aggregate-only questions over collected feedback, with small cells suppressed."""

from ._export import table_to_csv, tables_to_csv, tables_to_json
from ._gateway import DEFAULT_K, Gateway, Table
from ._html import render_html
from ._questions import (
    QUESTIONS,
    Question,
    active_installations,
    feature_usage,
    os_share,
    os_version_share,
    version_adoption,
)
from ._remote import RemoteError, RemoteSource
from ._render import render_table
from ._serialize import table_from_dict, table_to_dict
from ._source import LocalSource, day_range, open_database, open_snapshot
from ._window import PERIODS, Period, Window

__all__ = [
    "DEFAULT_K",
    "Gateway",
    "LocalSource",
    "PERIODS",
    "Period",
    "QUESTIONS",
    "Question",
    "RemoteError",
    "RemoteSource",
    "Table",
    "Window",
    "active_installations",
    "day_range",
    "feature_usage",
    "open_database",
    "open_snapshot",
    "os_share",
    "os_version_share",
    "render_html",
    "render_table",
    "table_from_dict",
    "table_to_csv",
    "table_to_dict",
    "tables_to_csv",
    "tables_to_json",
    "version_adoption",
]
