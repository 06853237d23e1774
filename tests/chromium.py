"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``): no new dependency.

For the viewer's browser tests (tests/test_view.py), its load benchmark (benchmarks/view_load.py) and the docs'
screenshot. Chromium reads commands from its fd 3 and writes replies and events to its fd 4, each a JSON message
ended by a NUL byte.

    with Chromium() as browser:
        page = browser.open("file:///tmp/report.html")
        page.evaluate("document.title"), page.problems  # console errors, uncaught exceptions, CSP violations
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any

__all__ = ["Chromium", "find_chromium"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """The Chromium binary on PATH (Debian's ``chromium`` first), or None."""
    return next((path for path in map(shutil.which, _NAMES) if path), None)


class Page:
    """One tab: evaluate JavaScript, read what the console reported, take screenshots."""

    def __init__(self, browser: Chromium, session_id: str):
        self.browser = browser
        self.session_id = session_id
        self.problems: list[str] = []  # console errors, uncaught exceptions, error log entries (CSP, loading)

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60.0) -> dict[str, Any]:
        return self.browser.send(method, params, session_id=self.session_id, timeout=timeout)

    def evaluate(self, expression: str, timeout: float = 60.0) -> Any:
        reply = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, timeout
        )
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression!r} raised: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"{expression!r} stayed false for {timeout} s; console: {self.problems}")

    def screenshot(self, path: str, width: int = 1400, height: int = 1000) -> str:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        reply = self.send("Page.captureScreenshot", {"format": "png"})
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(reply["data"]))
        return path

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.problems.append(f"exception: {details.get('exception', {}).get('description') or details['text']}")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert", "warning"):
            texts = [str(arg.get("value", arg.get("description", ""))) for arg in params["args"]]
            self.problems.append(f"console.{params['type']}: {' '.join(texts)}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            self.problems.append(f"log {params['entry']['level']}: {params['entry']['text']}")


class Chromium:
    """A headless Chromium process; ``open(url)`` loads a page and waits for its load event."""

    def __init__(self, binary: str | None = None):
        binary = binary or find_chromium()
        if binary is None:
            raise FileNotFoundError("no chromium on PATH: apt-get install -y chromium")
        self.profile = tempfile.mkdtemp(prefix="verl-ccrl-chromium-")
        pipe_read, self._to_browser = os.pipe()
        self._from_browser, pipe_write = os.pipe()
        # The child's ends at fds >= 10, so the shell's "3<&R 4>&W" below never overwrites one it still needs.
        to_browser_read, from_browser_write = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (pipe_read, pipe_write))
        arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run",
                     "--no-default-browser-check", "--disable-extensions", "--mute-audio",
                     f"--user-data-dir={self.profile}", "--window-size=1400,1000", "about:blank"]  # fmt: skip
        # bash (dash reads no fd above 9) moves the pipe ends to fds 3 and 4, where Chromium expects them.
        redirect = f'exec "$0" "$@" 3<&{to_browser_read} 4>&{from_browser_write}'
        self.process = subprocess.Popen(
            ["bash", "-c", redirect, binary, *arguments],
            pass_fds=(to_browser_read, from_browser_write),
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.profile, "stderr.log"), "wb"),
        )
        for fd in (pipe_read, pipe_write, to_browser_read, from_browser_write):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self._pages: dict[str, Page] = {}

    def send(self, method: str, params: dict | None = None, *, session_id: str | None = None, timeout: float = 60.0):
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise TimeoutError("chromium did not answer in time (or exited)")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise ConnectionError("chromium closed its DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        page = self._pages.get(message.get("sessionId", ""))
        if page is not None and "method" in message:
            page._event(message["method"], message.get("params", {}))
            if message["method"] == "Page.loadEventFired":
                page.loaded = True
        return message

    def open(self, url: str, timeout: float = 60.0) -> Page:
        """A new tab showing ``url``, returned once its load event fired."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.loaded = False
        self._pages[session] = page
        for domain in ("Runtime", "Log", "Page"):
            page.send(f"{domain}.enable")
        page.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while not page.loaded:
            self._receive(deadline)
        return page

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5.0)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
