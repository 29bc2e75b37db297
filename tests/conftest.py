"""A headless Chromium for the page tests, driven over the DevTools protocol with the standard library only.

``open_page(path, screenshot)`` loads a local HTML file by its ``file://`` URL in a fresh browser and
returns what a person would see and what went wrong: the visible text (``document.body.innerText``),
console errors and uncaught exceptions, failed requests (anything that did not load, missing images
included) and every URL requested; the full page is saved as a PNG screenshot. Skips the test cleanly
when no Chromium is installed (Debian's ``chromium`` package; ``.ci/run`` installs it when it can).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 60


@dataclass
class PageVisit:
    text: str
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    images: dict[str, int] = field(default_factory=dict)  # src -> naturalWidth (0: not decoded)


class _DevTools:
    """The browser end of ``--remote-debugging-pipe``: JSON messages, NUL-terminated, on fds 3 (to
    the browser) and 4 (from it)."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def plumb() -> None:  # in the child: the pipe ends become fds 3 and 4, inheritable by the browser
            high = [fcntl.fcntl(end, fcntl.F_DUPFD, 10) for end in (to_browser, from_browser)]
            for number, end in zip((3, 4), high, strict=True):
                os.dup2(end, number)

        arguments = [
            binary,
            "--headless",
            "--no-sandbox",  # tests may run as root in a container
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            arguments,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,  # our other fds are not inheritable and close on exec; 3 and 4 must stay
            preexec_fn=plumb,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._next_id, self.events = b"", 0, []

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise ConnectionError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not any(event.get("method") == method for event in self.events):
            self.events.append(self._receive(deadline))

    def close(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError, RuntimeError, OSError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)


_VISIBLE = """JSON.stringify({
  text: document.body.innerText,
  images: Array.from(document.images).map(image => [image.getAttribute("src"), image.naturalWidth]),
  height: document.documentElement.scrollHeight,
})"""


def _visit(binary: str, page: Path, screenshot: Path, profile: Path) -> PageVisit:
    tools = _DevTools(binary, profile)
    try:
        target = tools.call("Target.createTarget", url="about:blank")["targetId"]
        session = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.call(f"{domain}.enable", session)
        tools.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=1280,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        tools.events.clear()
        tools.call("Page.navigate", session, url=page.resolve().as_uri())
        tools.wait_for("Page.loadEventFired")
        result = tools.call("Runtime.evaluate", session, expression=_VISIBLE, returnByValue=True)
        seen = json.loads(result["result"]["value"])
        tools.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=1280,
            height=min(seen["height"], 16000),
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = tools.call("Page.captureScreenshot", session, format="png")
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        visit = PageVisit(text=seen["text"], images=dict(seen["images"]))
        for event in tools.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                visit.errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
                visit.errors.append(json.dumps(params.get("args")))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                visit.errors.append(params["entry"]["text"])
            elif method == "Network.requestWillBeSent":
                visit.requested.append(params["request"]["url"])
            elif method == "Network.loadingFailed":
                visit.failed.append(f"{params.get('requestId')}: {params.get('errorText')}")
            elif method == "Network.responseReceived" and params["response"].get("status", 200) >= 400:
                visit.failed.append(f"{params['response']['url']}: status {params['response']['status']}")
        return visit
    finally:
        tools.close()


@pytest.fixture
def open_page(tmp_path):
    """``open_page(html_file, screenshot_png) -> PageVisit``; skips without a Chromium."""
    binary = next(filter(None, map(shutil.which, BROWSERS)), None)
    if binary is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
    return lambda page, screenshot: _visit(
        binary, Path(page), Path(screenshot), tmp_path / "chromium-profile"
    )
