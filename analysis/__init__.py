"""optin analysis: differentially private releases of closed periods, and the questions answered from them."""

from ._catalog import QUESTIONS
from ._compare import compare
from ._dashboard import (
    DASHBOARD_PARAMS,
    SECTIONS as DASHBOARD_SECTIONS,
    BadFilter,
    Filters,
    dashboard_answers,
    dashboard_window,
    filter_form,
    parse_filters,
)
from ._export import table_to_csv, tables_to_csv, tables_to_json
from ._html import PAGE_CSP, render_html
from ._noise import epsilon
from ._publish import publish
from ._questions import Asker, Question
from ._release_job import ReleaseRun, run_releases
from ._release_plan import DEFAULT_BUDGET_RHO, DEFAULT_GRACE_DAYS, DIMENSIONS as BREAKDOWN_DIMENSIONS
from ._releases import ReleaseReader, WeekBudget
from ._remote import RemoteError, RemoteSource
from ._render import render_table
from ._serialize import table_from_dict, table_to_dict
from ._source import LocalSource, day_range, open_database, open_snapshot
from ._table import DEFAULT_K, Table
from ._window import PERIODS, Period, Window

__all__ = [
    "Asker",
    "BREAKDOWN_DIMENSIONS",
    "BadFilter",
    "DASHBOARD_PARAMS",
    "DASHBOARD_SECTIONS",
    "DEFAULT_BUDGET_RHO",
    "DEFAULT_GRACE_DAYS",
    "DEFAULT_K",
    "Filters",
    "LocalSource",
    "PAGE_CSP",
    "PERIODS",
    "Period",
    "QUESTIONS",
    "Question",
    "ReleaseReader",
    "ReleaseRun",
    "RemoteError",
    "RemoteSource",
    "Table",
    "WeekBudget",
    "Window",
    "compare",
    "dashboard_answers",
    "dashboard_window",
    "day_range",
    "epsilon",
    "filter_form",
    "open_database",
    "open_snapshot",
    "parse_filters",
    "publish",
    "render_html",
    "render_table",
    "run_releases",
    "table_from_dict",
    "table_to_csv",
    "table_to_dict",
    "tables_to_csv",
    "tables_to_json",
]
