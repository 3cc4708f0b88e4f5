"""optin analysis: aggregate-only questions over collected feedback, with small cells suppressed."""

from ._export import table_to_csv, tables_to_csv, tables_to_json
from ._gateway import DEFAULT_K, Gateway, Table
from ._html import render_html
from ._questions import QUESTIONS, Question, Window, active_installations, feature_usage, os_share, os_version_share, version_adoption
from ._render import render_table
from ._serialize import table_from_dict, table_to_dict
from ._source import day_range, open_database

__all__ = [
    "DEFAULT_K",
    "Gateway",
    "QUESTIONS",
    "Question",
    "Table",
    "Window",
    "active_installations",
    "day_range",
    "feature_usage",
    "open_database",
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
