"""Headless Chromium driven over the DevTools protocol (aiohttp's websocket client): load a page,
collect console errors, exceptions, failed and external requests, count what was drawn, screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.helpers import stop_process

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# What the page drew: chart marks, line series and sections, counted in the browser.
COUNT_JS = """JSON.stringify({
  charts: document.querySelectorAll('svg.chart').length,
  bars: document.querySelectorAll('svg.chart rect.bar').length,
  points: document.querySelectorAll('svg.chart circle.point').length,
  lines: document.querySelectorAll('svg.chart polyline.series').length,
  errorbars: document.querySelectorAll('svg.chart line.errorbar').length,
  sections: document.querySelectorAll('section').length,
  drawnWidth: Array.from(document.querySelectorAll('svg.chart rect.bar')).reduce((s, r) => s + r.getBBox().width, 0),
  scripts: document.scripts.length,
  title: document.title,
  forms: document.querySelectorAll('form[method=get]').length,
  styled: document.querySelectorAll('[style]').length,
  sectionsDetail: Array.from(document.querySelectorAll('section')).map(s => ({
    title: s.querySelector('h2').textContent,
    charts: s.querySelectorAll('svg.chart').length,
    rows: s.querySelectorAll('tbody tr').length,
    marks: s.querySelectorAll('svg.chart rect.bar, svg.chart circle.point').length
  })),
  overlaps: (() => {
    const found = [];
    document.querySelectorAll('svg.chart').forEach((svg, s) => {
      const frame = svg.getBoundingClientRect();
      const boxes = Array.from(svg.querySelectorAll('text')).map(t => [t.textContent, t.getBoundingClientRect()]);
      for (let i = 0; i < boxes.length; i++) {
        const [text, a] = boxes[i];
        if (a.left < frame.left - 0.5 || a.right > frame.right + 0.5) found.push([s, text, 'outside the chart']);
        for (let j = i + 1; j < boxes.length; j++) {
          const b = boxes[j][1];
          const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
          const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
          if (w > 0.5 && h > 0.5) found.push([s, text, boxes[j][0]]);
        }
      }
    });
    return found;
  })(),
  labels: document.querySelectorAll('svg.chart text').length
})"""


@dataclass
class PageLoad:
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, error log entries
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    failed: list[str] = field(default_factory=list)
    drawn: dict[str, Any] = field(default_factory=dict)


class _Tab:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, load: PageLoad) -> None:
        self.ws = ws
        self.load = load
        self.next_id = 0
        self.loaded = asyncio.Event()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send_str(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            message = await self.ws.receive_json()
            if message.get("id") == my_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.event(message)

    async def until_loaded(self) -> None:
        while not self.loaded.is_set():
            self.event(await self.ws.receive_json())

    def event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            self.load.errors.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
        elif method == "Runtime.exceptionThrown":
            self.load.errors.append(f"exception: {params['exceptionDetails'].get('text')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.load.errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Network.requestWillBeSent":
            self.load.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            self.load.failed.append(f"{params.get('errorText')} {params.get('blockedReason', '')}")
        elif method == "Page.loadEventFired":
            self.loaded.set()


async def _load(url: str, screenshot: Path, timeout_s: float) -> PageLoad:
    profile = Path(tempfile.mkdtemp(prefix="optin-chromium-"))
    assert CHROMIUM is not None
    proc = subprocess.Popen(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1200,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    load = PageLoad()
    try:
        deadline = time.monotonic() + timeout_s
        port_file = profile / "DevToolsActivePort"
        while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port")
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        async with aiohttp.ClientSession() as session:
            page_ws = ""
            while not page_ws:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as answer:
                    page_ws = next(
                        (t["webSocketDebuggerUrl"] for t in await answer.json() if t.get("type") == "page"), ""
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError("chromium has no page target")
            async with session.ws_connect(page_ws, max_msg_size=64 << 20) as ws:
                tab = _Tab(ws, load)
                for domain in ("Page", "Runtime", "Log", "Network"):
                    await tab.call(f"{domain}.enable")
                await tab.call("Page.navigate", url=url)
                await asyncio.wait_for(tab.until_loaded(), timeout_s)
                drawn = await tab.call("Runtime.evaluate", expression=COUNT_JS, returnByValue=True)
                load.drawn = json.loads(drawn["result"]["value"])
                metrics = await tab.call("Page.getLayoutMetrics")
                size = metrics.get("cssContentSize") or metrics["contentSize"]
                shot = await tab.call(
                    "Page.captureScreenshot",
                    format="png",
                    captureBeyondViewport=True,
                    clip={"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 12000), "scale": 1},
                )
                screenshot.write_bytes(base64.b64decode(shot["data"]))
    finally:
        stop_process(proc, timeout_s=10)
        shutil.rmtree(profile, ignore_errors=True)
    return load


def load_page(url: str, screenshot: Path, timeout_s: float = 60) -> PageLoad:
    """Open ``url`` in a fresh headless Chromium profile; what happened, and a full-page PNG."""
    return asyncio.run(_load(url, screenshot, timeout_s))


def checked_page(base: str, path: str, screenshot: Path) -> PageLoad:
    """``base + path`` loaded, checked for what every dashboard page must hold, and returned.

    No console or CSP error, no request beyond ``base``, no script or style attribute, one GET
    form, no two text boxes of a chart overlapping, a chart exactly in each section with rows.
    """
    page = load_page(base + path, screenshot)
    assert page.errors == [] and page.failed == [], (page.errors, page.failed)  # a CSP violation is an error
    assert all(url.startswith((base, "data:")) for url in page.requests), page.requests
    drawn = page.drawn
    assert drawn["scripts"] == 0 and drawn["styled"] == 0 and drawn["forms"] == 1
    assert drawn["overlaps"] == [], drawn["overlaps"]
    for section in drawn["sectionsDetail"]:
        assert section["charts"] == (1 if section["rows"] else 0), section
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    return page
