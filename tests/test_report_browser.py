"""report.html in a real headless browser (Debian's chromium), driven over the Chrome DevTools protocol.

The page must load from a file with no console error and no request beyond
the file itself (no CDN); pressing End on the focused slider must change the
shown frame; a click on a metrics header must sort the table.
"""
from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml

from hipposim.report import compare_runs
from hipposim.run import run_scenario
from hipposim.run.folder import prepare_output
from hipposim.scenario import loads_scenario

import websockets.sync.client as websockets_sync  # noqa: E402  (the test extra installs it)

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def small_comparison(tmp_path, seed: int):
    scenario = yaml.safe_dump({
        "version": 1, "name": "report_small", "seed": seed,
        "patterns": {"kind": "images", "names": ["apple", "cup", "smiley"]},
        "cues": {"kind": "masked", "region": "left_half"},
        "models": [{"id": "hopfield-classical-v1", "label": "classical", "params": {"update": "async", "max_steps": 6}},
                   {"id": "hopfield-modern-v1", "label": "modern", "params": {"max_steps": 3}},
                   {"id": "transformer-block-v1", "label": "transformer", "params": {"n_layers": 2}}],
    })
    run = run_scenario(loads_scenario(scenario), tmp_path / "run", progress=False, figures=False)
    folder = prepare_output(tmp_path / "cmp", overwrite=False)
    compare_runs([run], folder)
    return tmp_path / "cmp" / "report.html"


class Browser:
    """A headless chromium with one page, spoken to over the DevTools websocket."""

    def __init__(self, profile):
        if BROWSER is None:
            raise RuntimeError("chromium is not installed: apt-get install -y chromium")
        self.proc = subprocess.Popen(
            [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = None
        deadline = time.time() + 60
        while port is None and time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                port = int(m.group(1))
        if port is None:
            self.close()
            raise RuntimeError("chromium did not start its DevTools endpoint")
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        ws_url = next(p["webSocketDebuggerUrl"] for p in pages if p.get("type") == "page")
        self.ws = websockets_sync.connect(ws_url, max_size=None, open_timeout=20)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def send(self, method: str, **params):
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == ident:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30):
        if any(e.get("method") == method for e in self.events):
            return
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = json.loads(self.ws.recv(timeout=deadline - time.time()))
            self.events.append(msg)
            if msg.get("method") == method:
                return
        raise TimeoutError(method)

    def eval(self, expression: str):
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def close(self):
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        finally:
            self.proc.kill()  # the browser this test started, by its own handle
            self.proc.wait(timeout=30)


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def errors_in(events) -> list[str]:
    out = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            out.append(json.dumps(p.get("exceptionDetails", {}))[:300])
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(json.dumps(p.get("args", []))[:300])
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(p["entry"].get("text", "")[:300])
    return out


@pytest.mark.parametrize("seed", [2, 9])
def test_report_loads_offline_without_errors_and_the_slider_moves_the_frame(tmp_path, browser, seed):
    report = small_comparison(tmp_path, seed)
    text = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "the page must not fetch anything"
    assert "<svg" not in text.split("<body>")[0]  # figures are embedded as images, not in the head

    for domain in ("Runtime", "Log", "Page", "Network"):
        browser.send(f"{domain}.enable")
    browser.send("Page.navigate", url=report.as_uri())
    browser.wait_for("Page.loadEventFired")
    assert browser.eval("document.readyState") == "complete"

    requests = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), requests
    assert browser.eval("window.hipposimReport.errors") == []
    n_models = browser.eval("document.querySelectorAll('#models .model').length")
    assert n_models == 3
    assert browser.eval("document.querySelectorAll('img.fig').length") >= 2
    assert browser.eval("Array.from(document.querySelectorAll('img.fig')).every(i => i.src.startsWith("
                        "'data:image/svg+xml') && i.naturalWidth > 0)")
    assert browser.eval("document.getElementById('scenario').textContent.includes('name: report_small')")

    before = browser.eval("window.hipposimReport.shown()")
    assert all("m = " in s for s in before)
    assert browser.eval("document.getElementById('frame').value") == "0"
    # move the slider as a user would: focus it and press End
    browser.eval("document.getElementById('frame').focus()")
    for kind in ("keyDown", "keyUp"):
        browser.send("Input.dispatchKeyEvent", type=kind, key="End", code="End", windowsVirtualKeyCode=35)
    value, maximum = browser.eval("[document.getElementById('frame').value, document.getElementById('frame').max]")
    assert value == maximum and int(maximum) >= 2
    after = browser.eval("window.hipposimReport.shown()")
    assert after != before
    steps = browser.eval("Array.from(document.querySelectorAll('.caption')).map(c => +c.dataset.step)")
    assert max(steps) > 0
    # the transformer ends on its last layer with the cued item recalled
    assert any(s.startswith("layer 2") for s in after)
    # sort the metrics table by the headline item-space overlap, both ways
    col = browser.eval("Array.from(document.querySelectorAll('#metrics thead th')).findIndex(t => "
                       "t.textContent.startsWith('item_overlap'))")
    assert col > 0
    get = (f"Array.from(document.querySelectorAll('#metrics tbody tr')).map(r => "
           f"parseFloat(r.cells[{col}].dataset.v))")
    browser.eval(f"document.querySelectorAll('#metrics thead th')[{col}].click()")
    up = browser.eval(get)
    assert up == sorted(up)
    assert browser.eval(f"document.querySelectorAll('#metrics thead th')[{col}].getAttribute('aria-sort')") == "ascending"
    browser.eval(f"document.querySelectorAll('#metrics thead th')[{col}].click()")
    assert browser.eval(get) == sorted(up, reverse=True)
    assert errors_in(browser.events) == []
