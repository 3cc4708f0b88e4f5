"""Limits shared by every component: the client builds within them, the collector enforces them.

Each rule is stated here once and imported wherever it is applied. This module imports nothing at
run time (not even `typing`): the client reads it on its start-up path, which has a budget.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

SCHEMA_VERSION: Final = 1  # bump when the wire format changes, not when a metric is added

MAX_BODY_BYTES: Final = 1 << 20  # compressed and decompressed; same cap as Glean's ping body limit
MAX_JSON_DEPTH: Final = 6  # a v1 report nests at most 4 levels; anything deeper is hostile
MAX_JSON_STRING: Final = 1024  # characters in one string (the longest legal one is a 64-digit hash)
MAX_JSON_ESCAPES: Final = 256  # backslashes in one body (a report from a client needs none)
MAX_JSON_WIDTH: Final = 1024  # items in one object or array: the widest legal one is `metrics` (MAX_METRICS_PER_REPORT)
MAX_METRICS_PER_REPORT: Final = 1024  # a registry may declare at most this many metrics
MAX_LABELS_PER_METRIC: Final = 256  # closed sets stay small enough to read in the consent dialog
MAX_BUCKETS: Final = 64
MAX_COUNTER: Final = (1 << 31) - 1  # per period, fits the stored int32; larger counts are a client bug, not usage
MAX_REGISTRY_VERSION: Final = 1 << 30  # registry versions are 1..this, in registry files and in reports
MAX_PERIOD_SECONDS: Final = 31 * 86400  # a report covers at most a month (e.g. after a long offline spell)
MIN_EPOCH_SECONDS: Final = 946684800  # 2000-01-01T00:00:00Z: no period starts earlier
MAX_CLOCK_SKEW_SECONDS: Final = 366 * 86400  # sent_at further than this from the receiver's clock is absurd
NAME_PATTERN: Final = r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*"  # metric and app names: no free text
LABEL_PATTERN: Final = r"[a-z0-9][a-z0-9_.+-]*"  # closed-set values are identifiers, not prose
MAX_NAME_CHARS: Final = 64
VERSION_PATTERN: Final = r"[0-9]{1,6}(\.[0-9]{1,6}){0,3}"  # app versions are dotted numbers only
HASH_PATTERN: Final = r"[0-9a-f]{64}"  # registry hashes: SHA-256, lower-case hex
UUID_PATTERN: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # report ids
UUID4_PATTERN: Final = (
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"  # installation ids: random
)
REPORT_KEYS: Final = frozenset(
    {"schema", "report_id", "installation_id", "app", "registry", "period", "sent_at", "metrics", "client"}
)  # the top-level keys of a v1 report, every one required
# The client's own data-quality counters. "discarded" (reports of an earlier installation id the
# uploader refused to send) came later: a report without it is valid and counts 0, so clients built
# before it keep working (collectors accept it before any client sends it); the others are in every report.
CLIENT_COUNTERS: Final = ("dropped", "evicted", "rejected", "discarded")
REQUIRED_CLIENT_COUNTERS: Final = CLIENT_COUNTERS[:3]

MIN_AGGREGATE_K: Final = 10  # the smallest group any analysis surface shows; operators may raise it, never lower it
MAX_WINDOW_DAYS: Final = 3660  # days between a window's first and last day: ten years; longer is a typo, and costly
