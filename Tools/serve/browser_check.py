#!/usr/bin/env python3
"""Uses the page of a running `glm serve` in headless Chromium as a person would: types a prompt,
picks greedy decoding, clicks the button, watches the fills stream in, and prints what the page
showed as one JSON object (Tests/GLMServeTests/ClientTests.swift checks it). Talks to Chromium
over the DevTools protocol on a pipe (--remote-debugging-pipe), so only the standard library is
needed. Optionally saves a screenshot of the finished page.

    python3 Tools/serve/browser_check.py --url http://127.0.0.1:8080/ --text "w40 [MASK] w44" \
        [--min-new-tokens 5] --max-new-tokens 5 [--screenshot out.png] [--chromium chromium]
"""
import argparse
import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class DevTools:
    """The DevTools protocol over Chromium's pipe: JSON messages ended by NUL, fds 3 (in) and 4 (out)."""

    def __init__(self, chromium, extra_args):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        self.profile = tempfile.mkdtemp(prefix="glm-serve-chromium-")
        # Chromium reads fd 3 and writes fd 4. The pipe ends are first moved above 10, so that
        # putting one on 3 cannot overwrite the other.
        hi_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD_CLOEXEC, 10)

        def wire():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe",
                f"--user-data-dir={self.profile}"] + extra_args + ["about:blank"]
        # close_fds=False: subprocess would otherwise close 3 and 4 after wire() ran.
        self.proc = subprocess.Popen(args, preexec_fn=wire, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in (hi_r, hi_w):
            os.close(fd)
        os.close(to_child_r)
        os.close(from_child_w)
        self.next_id = 0
        self.buffer = b""
        self.events = []

    def _read_message(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, session=None, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read_message()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_message())
        raise RuntimeError(f"no {method} within {timeout} s")

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--min-new-tokens", type=int, default=0)
    ap.add_argument("--max-new-tokens", type=int, default=5)
    ap.add_argument("--screenshot")
    ap.add_argument("--chromium", default="chromium")
    a = ap.parse_args()

    dt = DevTools(a.chromium, ["--window-size=960,720"])
    try:
        target = dt.call("Target.createTarget", url="about:blank")["targetId"]
        s = dt.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        dt.call("Page.enable", s)
        dt.call("Emulation.setDeviceMetricsOverride", s, width=960, height=720, deviceScaleFactor=1, mobile=False)
        dt.call("Page.navigate", s, url=a.url)
        dt.wait_event("Page.loadEventFired")

        def js(expr):
            r = dt.call("Runtime.evaluate", s, expression=expr, returnByValue=True, awaitPromise=True)
            if "exceptionDetails" in r:
                raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
            return r["result"].get("value")

        end = time.time() + 20
        while js("document.getElementById('model').textContent") == "…" and time.time() < end:
            time.sleep(0.02)
        model = js("document.getElementById('model').textContent")

        def click(selector):
            box = js(f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                     " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
            for kind in ("mousePressed", "mouseReleased"):
                dt.call("Input.dispatchMouseEvent", s, type=kind, x=box[0], y=box[1], button="left", clickCount=1)

        # Type the prompt over the example text, as a person would.
        click("#text")
        js("document.getElementById('text').select()")
        dt.call("Input.insertText", s, text=a.text)
        click("#greedy")
        for field, value in (("#min_new_tokens", a.min_new_tokens), ("#max_new_tokens", a.max_new_tokens)):
            click(field)
            js(f"document.querySelector({json.dumps(field)}).select()")
            dt.call("Input.insertText", s, text=str(value))
        click("#fill")

        # Watch the output while it streams.
        seen, state = [], None
        end = time.time() + 60
        while time.time() < end:
            snap = js("[document.body.dataset.state, document.getElementById('output').textContent,"
                      " Array.from(document.querySelectorAll('#output mark.live')).length]")
            state = snap[0]
            if state == "running" and (not seen or seen[-1]["text"] != snap[1]):
                seen.append({"text": snap[1], "live_marks": snap[2]})
            if state in ("done", "error"):
                break
            time.sleep(0.01)

        result = {
            "model": model,
            "state": state,
            "typed": js("document.getElementById('text').value"),
            "output": js("document.getElementById('output').textContent"),
            "marks": js("Array.from(document.querySelectorAll('#output mark')).map(m => [Number(m.dataset.blank), m.textContent])"),
            "token_events": int(js("document.body.dataset.tokens") or 0),
            "status": js("document.getElementById('status').textContent"),
            "last_result": js("window.lastResult || null"),
            "while_running": seen,
        }
        if a.screenshot:
            png = dt.call("Page.captureScreenshot", s, format="png")["data"]
            with open(a.screenshot, "wb") as f:
                f.write(base64.b64decode(png))
            result["screenshot"] = a.screenshot
        json.dump(result, sys.stdout)
        print()
    finally:
        dt.close()


if __name__ == "__main__":
    main()
