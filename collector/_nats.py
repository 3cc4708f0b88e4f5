"""What the collectors and the loader share when the journal is a NATS JetStream stream.

The stream `<nats_stream>` holds, in one order, the records of `_records` (reports, deletions)
and the rejection counts of every collector (a record of kind `C`). Its retention is a work
queue: a message leaves the stream once the loader has loaded it and acknowledged it, so the
stream holds only what the database does not have yet, and `nats_max_bytes` bounds it (a
publish beyond it is refused, and the collector answers 503).

A report message carries two headers and nothing else: `Nats-Msg-Id`, the report id (JetStream
drops a copy that arrives within `nats_duplicate_window_s`), and `Optin-Table`, the id of the
metrics table the collector's checker used (the table itself is in the key-value bucket
`<nats_stream>-tables`, written once per registry set). No address, user agent or other request
metadata is ever in a message or a header.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
from collections.abc import Mapping
from typing import Any, Final

import nats
import orjson
from nats.aio.client import Client
from nats.js import JetStreamContext, api as js_api
from nats.js.errors import BadRequestError

from ._config import Config

COUNTS: Final = b"C"  # rejection counts of one collector: {"day": {"reason": n}}
TABLE_HEADER: Final = "Optin-Table"
MSG_ID_HEADER: Final = "Nats-Msg-Id"

log = logging.getLogger("optin.collector")


def subject(config: Config, kind: str) -> str:
    return f"optin.{config.nats_stream}.{kind}"


def table_bucket(config: Config) -> str:
    return f"{config.nats_stream}-tables"


def table_id(table: bytes) -> str:
    return hashlib.sha256(table).hexdigest()[:32]


def encode_counts(by_day: Mapping[str, Mapping[str, int]]) -> bytes:
    return COUNTS + orjson.dumps(by_day)


def decode_counts(payload: bytes) -> dict[str, dict[str, int]]:
    doc = orjson.loads(payload[1:])
    return {str(day): {str(k): int(v) for k, v in counts.items()} for day, counts in doc.items()}


def describe(error: BaseException) -> str:
    """The error's type, and the server's own words for a JetStream API error (never anything a client sent)."""
    description = getattr(error, "description", None)
    return f"{type(error).__name__}: {description}" if description else type(error).__name__


def servers(config: Config) -> list[str]:
    return [url.strip() for url in config.journal.split(",") if url.strip()]


def _tls(config: Config) -> ssl.SSLContext | None:
    if config.nats_tls_ca is None and config.nats_tls_cert is None:
        return None
    context = ssl.create_default_context(cafile=str(config.nats_tls_ca) if config.nats_tls_ca else None)
    if config.nats_tls_cert is not None:
        context.load_cert_chain(config.nats_tls_cert, config.nats_tls_key)
    return context


async def connect(config: Config, name: str) -> Client:
    """A connection that reconnects for ever (to any server of the list or of the cluster it learns)."""
    options: dict[str, Any] = {
        "servers": servers(config),
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.2,
        "connect_timeout": 2,
        "ping_interval": 5,
        "max_outstanding_pings": 2,
    }

    async def on_error(error: Exception) -> None:  # the client's own handler prints tracebacks: one line instead
        log.warning("nats: %s", type(error).__name__, extra={"event": "nats_error"})

    options["error_cb"] = on_error
    tls = _tls(config)
    if tls is not None:
        options["tls"] = tls
    if config.nats_creds is not None:
        options["user_credentials"] = str(config.nats_creds)
    return await nats.connect(**options)


async def ensure_stream(js: JetStreamContext, config: Config) -> None:
    """Create the stream and the tables bucket if they are missing (the same settings from every process)."""
    stream = js_api.StreamConfig(
        name=config.nats_stream,
        subjects=[f"optin.{config.nats_stream}.>"],
        retention=js_api.RetentionPolicy.WORK_QUEUE,
        storage=js_api.StorageType.FILE,
        num_replicas=config.nats_replicas,
        max_bytes=config.nats_max_bytes,
        discard=js_api.DiscardPolicy.NEW,
        duplicate_window=config.nats_duplicate_window_s,
        max_msg_size=config.max_body_bytes + 4096,
    )
    try:
        await js.add_stream(stream)
    except BadRequestError as error:
        if error.err_code != 10058:  # stream name already in use with another configuration: keep it
            raise
    await js.create_key_value(
        js_api.KeyValueConfig(bucket=table_bucket(config), history=1, replicas=config.nats_replicas)
    )
