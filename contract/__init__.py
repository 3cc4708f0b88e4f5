"""The shared contract of optin: metric registry, report format, limits and at-rest names.

Client, collector and analysis import this package and never each other. Names are loaded on
first use (PEP 562), so a desktop app that only needs `RegistryFile` parses and imports nothing else.
"""

from __future__ import annotations

from ._lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._checker import CheckedReport, ReportChecker
    from ._errors import RegistryError, ReportError
    from ._lazy import lazy_exports
    from ._limits import (
        CLIENT_COUNTERS,
        MAX_BODY_BYTES,
        MAX_COUNTER,
        MAX_JSON_DEPTH,
        MAX_JSON_WIDTH,
        MAX_WINDOW_DAYS,
        MIN_AGGREGATE_K,
        SCHEMA_VERSION,
    )
    from ._registry import (
        Category,
        Kind,
        Metric,
        Registry,
        bundled_registry,
        load_registry,
        load_registry_folder,
        parse_registry,
    )
    from ._registry_file import RegistryFile, bundled_registry_file
    from ._report import (
        Report,
        Value,
        check_report,
        check_value,
        decode_json,
        new_report_id,
        report_from_json,
    )
    from ._storage import (
        RELEASE_TABLES,
        REPORT_COLUMN_NAMES,
        REPORT_COLUMNS,
        REPORT_COLUMNS_ADDED,
        REPORT_COLUMNS_V1,
        SCHEMA_RELEASES,
        SCHEMA_V1,
        SNAPSHOT_PARTITION_COLUMN,
        SNAPSHOT_PARTITIONED,
        SNAPSHOT_TABLES,
        TABLES,
        encode_value,
        label_names,
        report_columns_ddl,
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
__all__ = [
    "CLIENT_COUNTERS",
    "Category",
    "CheckedReport",
    "Kind",
    "MAX_BODY_BYTES",
    "MAX_COUNTER",
    "MAX_JSON_DEPTH",
    "MAX_JSON_WIDTH",
    "MAX_WINDOW_DAYS",
    "MIN_AGGREGATE_K",
    "Metric",
    "RELEASE_TABLES",
    "REPORT_COLUMNS",
    "REPORT_COLUMNS_ADDED",
    "REPORT_COLUMNS_V1",
    "REPORT_COLUMN_NAMES",
    "Registry",
    "RegistryError",
    "RegistryFile",
    "Report",
    "ReportChecker",
    "ReportError",
    "SCHEMA_RELEASES",
    "SCHEMA_V1",
    "SCHEMA_VERSION",
    "SNAPSHOT_PARTITIONED",
    "SNAPSHOT_PARTITION_COLUMN",
    "SNAPSHOT_TABLES",
    "TABLES",
    "Value",
    "bundled_registry",
    "bundled_registry_file",
    "check_report",
    "check_value",
    "decode_json",
    "encode_value",
    "label_names",
    "lazy_exports",
    "load_registry",
    "load_registry_folder",
    "new_report_id",
    "parse_registry",
    "report_columns_ddl",
    "report_from_json",
]


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
