"""The shared contract of optin: metric registry, report format, limits and at-rest names.

Client, collector and analysis import this package and never each other. Names are loaded on
first use (PEP 562), so a desktop app that only needs `RegistryFile` parses and imports nothing else.
"""

from __future__ import annotations

from ._lazy import lazy_exports as lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._checker import CheckedReport as CheckedReport, ReportChecker as ReportChecker
    from ._errors import RegistryError as RegistryError, ReportError as ReportError
    from ._limits import (
        CLIENT_COUNTERS as CLIENT_COUNTERS,
        MAX_BODY_BYTES as MAX_BODY_BYTES,
        MAX_COUNTER as MAX_COUNTER,
        MAX_JSON_DEPTH as MAX_JSON_DEPTH,
        MAX_JSON_WIDTH as MAX_JSON_WIDTH,
        MAX_WINDOW_DAYS as MAX_WINDOW_DAYS,
        MIN_AGGREGATE_K as MIN_AGGREGATE_K,
        SCHEMA_VERSION as SCHEMA_VERSION,
    )
    from ._registry import (
        Category as Category,
        Kind as Kind,
        Metric as Metric,
        Registry as Registry,
        bundled_registry as bundled_registry,
        load_registry as load_registry,
        load_registry_folder as load_registry_folder,
        parse_registry as parse_registry,
    )
    from ._registry_file import RegistryFile as RegistryFile, bundled_registry_file as bundled_registry_file
    from ._report import (
        Report as Report,
        Value as Value,
        check_report as check_report,
        check_value as check_value,
        decode_json as decode_json,
        new_report_id as new_report_id,
        report_from_json as report_from_json,
    )
    from ._storage import (
        RELEASE_TABLES as RELEASE_TABLES,
        REPORT_COLUMN_NAMES as REPORT_COLUMN_NAMES,
        REPORT_COLUMNS as REPORT_COLUMNS,
        REPORT_COLUMNS_ADDED as REPORT_COLUMNS_ADDED,
        REPORT_COLUMNS_V1 as REPORT_COLUMNS_V1,
        SCHEMA_RELEASES as SCHEMA_RELEASES,
        SCHEMA_V1 as SCHEMA_V1,
        SNAPSHOT_PARTITION_COLUMN as SNAPSHOT_PARTITION_COLUMN,
        SNAPSHOT_PARTITIONED as SNAPSHOT_PARTITIONED,
        SNAPSHOT_TABLES as SNAPSHOT_TABLES,
        TABLES as TABLES,
        encode_value as encode_value,
        label_names as label_names,
        report_columns_ddl as report_columns_ddl,
    )

_HOME = {
    "_errors": ("RegistryError", "ReportError"),
    "_lazy": ("lazy_exports",),
    "_checker": ("CheckedReport", "ReportChecker"),
    "_limits": (
        "CLIENT_COUNTERS",
        "MAX_BODY_BYTES",
        "MAX_COUNTER",
        "MAX_JSON_DEPTH",
        "MAX_JSON_WIDTH",
        "MAX_WINDOW_DAYS",
        "MIN_AGGREGATE_K",
        "SCHEMA_VERSION",
    ),
    "_registry": (
        "Category",
        "Kind",
        "Metric",
        "Registry",
        "bundled_registry",
        "load_registry",
        "load_registry_folder",
        "parse_registry",
    ),
    "_registry_file": ("RegistryFile", "bundled_registry_file"),
    "_report": (
        "Report",
        "Value",
        "check_report",
        "check_value",
        "decode_json",
        "new_report_id",
        "report_from_json",
    ),
    "_storage": (
        "RELEASE_TABLES",
        "SCHEMA_RELEASES",
        "SCHEMA_V1",
        "SNAPSHOT_PARTITIONED",
        "SNAPSHOT_PARTITION_COLUMN",
        "SNAPSHOT_TABLES",
        "TABLES",
        "encode_value",
        "label_names",
        "report_columns_ddl",
        "REPORT_COLUMN_NAMES",
        "REPORT_COLUMNS",
        "REPORT_COLUMNS_ADDED",
        "REPORT_COLUMNS_V1",
    ),
}
__all__ = sorted(name for names in _HOME.values() for name in names)  # the TYPE_CHECKING imports re-export them


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
