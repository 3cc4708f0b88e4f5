"""The HTTP transport: proxies from the environment, TLS verified (with a CA-bundle option)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import truststore
from aiohttp import web

from optin.client import HttpTransport, ManualClock
from optin.client._transport import parse_retry_after
from optin.contract import Registry
from tests.helpers import self_signed_cert

from .conftest import ScriptedCollector, make_feedback


def test_proxy_settings_come_from_the_environment(
    tmp_path: Path, registry: Registry, clock: ManualClock, scripted: ScriptedCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", scripted.url)  # the scripted server plays the proxy
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    feedback = make_feedback(registry, tmp_path, "http://collector.example:8080", clock)
    feedback.turn_on()
    feedback.count("toolpath.pocket")
    clock.advance(86400)
    assert feedback.flush(10)
    assert len(scripted.seen) == 1
    seen = scripted.seen[0]
    assert seen.headers["Host"] == "collector.example:8080" and seen.path == "/v1/reports"
    assert json.loads(gzip.decompress(seen.body))["metrics"]["toolpath.pocket"] == 1
    feedback.close(0)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path, list[bytes]]]:
    cert, key = self_signed_cert(tmp_path)
    bodies: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return web.json_response({"status": "stored"}, status=202)

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    app = web.Application()
    app.router.add_post("/v1/reports", handle)
    runner = web.AppRunner(app, access_log=None)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        return int(runner.addresses[0][1])

    port = asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    yield port, cert, bodies
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_tls_is_verified_and_a_custom_ca_bundle_can_be_given(tls_server: tuple[int, Path, list[bytes]]) -> None:
    port, cert, bodies = tls_server
    url = f"https://127.0.0.1:{port}/v1/reports"
    headers = {"Content-Type": "application/json"}
    with pytest.raises(OSError):  # an unknown certificate is refused: nothing is sent
        HttpTransport().post(url, b"{}", headers, 10)
    assert bodies == []
    assert HttpTransport(ca_bundle=str(cert)).post(url, b"{}", headers, 10).status == 202
    assert bodies == [b"{}"]


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 60) == 60.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_the_operating_systems_trust_store_is_used_so_a_company_ca_needs_no_bundle(
    tls_server: tuple[int, Path, list[bytes]],
) -> None:
    """On Linux the system store is OpenSSL's default CA file; a CA that IT put there (SSL_CERT_FILE stands
    in for /etc/ssl/certs here) is trusted without ``ca_bundle``. Windows and macOS use their own stores."""
    port, cert, bodies = tls_server
    assert isinstance(HttpTransport().context, truststore.SSLContext)
    code = (
        "import sys; from optin.client import HttpTransport; "
        "print(HttpTransport().post(sys.argv[1], b'{}', {'Content-Type': 'application/json'}, 10).status)"
    )
    url = f"https://127.0.0.1:{port}/v1/reports"
    env = {**os.environ, "SSL_CERT_FILE": str(cert), "SSL_CERT_DIR": str(cert.parent)}
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "202", done.stderr
    assert bodies == [b"{}"]
