"""The OpenAPI 3.1 document the collector serves at /openapi.json, built from the contract's limits."""

from __future__ import annotations

from typing import Any

from optin.analysis import BREAKDOWN_DIMENSIONS, DASHBOARD_SECTIONS, PERIODS
from optin.contract import MAX_BODY_BYTES, SCHEMA_VERSION

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "machine-readable reason code"},
        "path": {"type": "string", "description": "JSON path of the offending field; never its value"},
        "detail": {"type": "string"},
    },
}


_TABLE = {
    "type": "object",
    "required": ["title", "columns", "rows", "k", "suppressed"],
    "properties": {
        "question": {"type": "string"},
        "title": {"type": "string"},
        "columns": {"type": "array", "items": {"type": "string"}},
        "rows": {
            "type": "array",
            "items": {"type": "array"},
            "description": "keys, then each released measure followed by its 95 % half-width (`<column>_ci95`);"
            " the numbers of a row whose noisy count is under k are null",
        },
        "k": {"type": "integer", "description": "display threshold: rows with a smaller noisy count are hidden"},
        "suppressed": {"type": "integer", "description": "rows shown as hidden (noisy count under k)"},
        "notes": {"type": "array", "items": {"type": "string"}},
        "chart": {"type": "string", "description": "the measure column a chart of the table plots"},
    },
}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _retry(description: str) -> dict[str, Any]:
    out = _error(description)
    out["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}
    return out


_AUTH_ERRORS: dict[str, Any] = {
    "401": _error("no token, or a wrong one"),
    "404": _error("the collector has no token configured (the endpoints are off), or an unknown question"),
}


def openapi_document() -> dict[str, Any]:
    report = {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "schema",
            "report_id",
            "installation_id",
            "app",
            "registry",
            "period",
            "sent_at",
            "metrics",
            "client",
        ],
        "properties": {
            "schema": {"const": SCHEMA_VERSION},
            "report_id": {
                "type": "string",
                "format": "uuid",
                "description": "idempotency key: a retried report keeps its id",
            },
            "installation_id": {
                "type": "string",
                "format": "uuid",
                "description": "random UUIDv4, reset when the user turns feedback off",
            },
            "app": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "version"],
                "properties": {
                    "name": {"type": "string"},
                    "version": {"type": "string", "pattern": "^[0-9]{1,6}(\\.[0-9]{1,6}){0,3}$"},
                },
            },
            "registry": {
                "type": "object",
                "additionalProperties": False,
                "required": ["version", "hash"],
                "properties": {
                    "version": {"type": "integer", "minimum": 1},
                    "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                },
            },
            "period": {
                "type": "object",
                "additionalProperties": False,
                "required": ["start", "end"],
                "properties": {"start": {"type": "integer"}, "end": {"type": "integer"}},
                "description": "Unix seconds (UTC) on the client's clock",
            },
            "sent_at": {"type": "integer", "description": "client clock at upload; used to correct clock skew"},
            "metrics": {
                "type": "object",
                "description": "declared metrics only: counter → integer or {label: integer}; boolean;"
                " enum → string of the declared set; quantity → a declared bucket bound;"
                " duration → list of bucket counts",
                "additionalProperties": {
                    "oneOf": [
                        {"type": "integer", "minimum": 0},
                        {"type": "boolean"},
                        {"type": "string"},
                        {"type": "number"},
                        {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                        {"type": "array", "items": {"type": "integer", "minimum": 0}},
                    ]
                },
            },
            "client": {
                "type": "object",
                "additionalProperties": False,
                "required": ["dropped", "evicted", "rejected"],
                "properties": {
                    k: {"type": "integer", "minimum": 0} for k in ("dropped", "evicted", "rejected", "discarded")
                },
            },
        },
    }
    json_body = {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "optin collector",
            "version": f"{SCHEMA_VERSION}.0",
            "description": "Receives opt-in feedback reports. Stores no IP address, user agent or header.",
        },
        "paths": {
            "/v1/reports": {
                "post": {
                    "summary": "Submit one report (optionally Content-Encoding: gzip)",
                    "requestBody": {
                        "required": True,
                        "content": json_body,
                        "description": f"at most {MAX_BODY_BYTES} bytes, compressed and decompressed",
                    },
                    "responses": {
                        "202": {"description": "stored durably (committed)"},
                        "200": {"description": "duplicate report id: already stored, stored once"},
                        "400": _error(
                            "malformed: not UTF-8, bad JSON or gzip, duplicate keys, NaN/Infinity,"
                            " nesting deeper than 6 or wider than 1024, bad UUID"
                        ),
                        "413": _error("body too large, compressed or decompressed"),
                        "410": _error(
                            "installation_deleted: the deletion of this installation id was confirmed;"
                            " its reports are never stored again"
                        ),
                        "415": _error("not application/json, or an unsupported Content-Encoding"),
                        "422": _error(
                            "schema violation: undeclared metric, value outside the declared set or bounds, wrong type"
                        ),
                        "429": _retry("too many requests in flight"),
                        "503": _retry("overloaded or storage unavailable; nothing was stored"),
                    },
                }
            },
            "/v1/deletions": {
                "post": {
                    "summary": "Delete every stored row of an installation id (idempotent)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["installation_id"],
                                    "properties": {"installation_id": {"type": "string", "format": "uuid"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": {"description": "deleted (or nothing was stored)"},
                        "400": _error("malformed request or installation id"),
                        "413": _error("body too large"),
                        "415": _error("not application/json"),
                        "503": _retry("storage unavailable"),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Readiness",
                    "responses": {
                        "200": {"description": "ready"},
                        "503": {"description": "not ready: storage failing, or the disk is full (reason in the body)"},
                    },
                }
            },
            "/metrics": {
                "get": {"summary": "Prometheus text metrics", "responses": {"200": {"description": "metrics"}}}
            },
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}
            },
            "/v1/aggregates": {
                "get": {
                    "summary": "Names of the canned aggregate questions",
                    "security": _BEARER,
                    "responses": {
                        "200": {
                            "description": "question names",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"questions": {"type": "array", "items": {"type": "string"}}},
                                    }
                                }
                            },
                        },
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/v1/aggregates/{question}": {
                "get": {
                    "summary": "One canned question over a window of days, small cells suppressed (never a raw row)",
                    "security": _BEARER,
                    "parameters": [
                        {
                            "name": "question",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": "a name listed by GET /v1/aggregates",
                        },
                        {
                            "name": "app",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "application name (optional when the collector knows one)",
                        },
                        {
                            "name": "from",
                            "in": "query",
                            "schema": {"type": "string", "format": "date"},
                            "description": "first day (default: the first released day)",
                        },
                        {
                            "name": "to",
                            "in": "query",
                            "schema": {"type": "string", "format": "date"},
                            "description": "last day, inclusive (default: the last released day)",
                        },
                        {
                            "name": "period",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["day", "week", "month"]},
                            "description": "which released periods answer (default: week)",
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "a table",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Table"}}},
                        },
                        "400": _error("unknown app, bad date or window, or a parameter not listed here"),
                        **_AUTH_ERRORS,
                        "503": _retry("the query passed its deadline, or storage is unavailable"),
                    },
                }
            },
            "/dashboard": {
                "get": {
                    "summary": "Every canned question as one self-contained HTML page;"
                    " the token may also be given as ?token=",
                    "security": _BEARER,
                    "parameters": [
                        {
                            "name": "token",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "the token, for opening the page in a browser",
                        },
                        {"name": "app", "in": "query", "schema": {"type": "string"}},
                        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                        {"name": "period", "in": "query", "schema": {"type": "string", "enum": list(PERIODS)}},
                        {
                            "name": "periods",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1},
                            "description": "the latest N released periods",
                        },
                        {
                            "name": "question",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["", *DASHBOARD_SECTIONS]},
                        },
                        {
                            "name": "breakdown",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["", *BREAKDOWN_DIMENSIONS]},
                        },
                        {
                            "name": "compare",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["", "previous", "dates"]},
                            "description": "show the chosen question in a second window beside it: the periods just"
                            " before, or before_from..before_to",
                        },
                        {"name": "before_from", "in": "query", "schema": {"type": "string", "format": "date"}},
                        {"name": "before_to", "in": "query", "schema": {"type": "string", "format": "date"}},
                    ],
                    "responses": {
                        "200": {"description": "HTML page", "content": {"text/html": {}}},
                        "400": _error("a parameter the dashboard does not take, given twice, or out of its set"),
                        **_AUTH_ERRORS,
                        "503": _retry("query deadline passed"),
                    },
                }
            },
            "/v1/budget": {
                "get": {
                    "summary": "The privacy ledger of one application: ρ spent and remaining per budget week, refusals",
                    "security": _BEARER,
                    "parameters": [{"name": "app", "in": "query", "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "the ledger", "content": {"application/json": {}}},
                        "400": _error("unknown app"),
                        **_AUTH_ERRORS,
                        "503": _retry("storage unavailable"),
                    },
                }
            },
            "/v1/releases": {
                "post": {
                    "summary": "Make every due privacy release now (closed periods past the grace); never recomputed",
                    "security": _BEARER,
                    "responses": {
                        "200": {"description": "how many releases were made and refused"},
                        **_AUTH_ERRORS,
                        "503": _retry("storage unavailable"),
                    },
                }
            },
            "/v1/snapshots": {
                "post": {
                    "summary": "Write a Parquet snapshot (partitioned by day) to the configured folder now",
                    "security": _BEARER,
                    "responses": {
                        "200": {"description": "written"},
                        **_AUTH_ERRORS,
                        "409": _error("no snapshot folder configured"),
                        "503": _retry("storage unavailable"),
                    },
                }
            },
        },
        "components": {
            "schemas": {"Report": report, "Error": _ERROR, "Table": _TABLE},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the collector's analysis token (token_file or OPTIN_COLLECTOR_TOKEN)",
                }
            },
        },
    }
