"""The shared contract of optin: metric registry, report format, limits and at-rest names.

Client, collector and analysis import this package and never each other.
"""

from ._errors import RegistryError, ReportError
from ._limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, SCHEMA_VERSION
from ._registry import Category, Kind, Metric, Registry, bundled_registry, load_registry, load_registry_folder, parse_registry
from ._report import CLIENT_COUNTERS, Report, Value, check_report, check_value, decode_json, new_report_id, report_from_json
from ._storage import SCHEMA_V1, TABLES, encode_value, label_names

__all__ = [
    "CLIENT_COUNTERS",
    "Category",
    "Kind",
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "Metric",
    "Registry",
    "RegistryError",
    "Report",
    "ReportError",
    "SCHEMA_V1",
    "SCHEMA_VERSION",
    "TABLES",
    "Value",
    "bundled_registry",
    "check_report",
    "check_value",
    "decode_json",
    "encode_value",
    "label_names",
    "load_registry",
    "load_registry_folder",
    "new_report_id",
    "parse_registry",
    "report_from_json",
]
