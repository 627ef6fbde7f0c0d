#!/usr/bin/env python3
"""The browser half of tests/tests/web_view.rs: Debian's chromium, driven by
Playwright, watches the switch's live web view while the Rust test drives
real phones.

Usage: view_test.py URL CHROMIUM SCREENSHOT_DIR

Reads one JSON command per line on stdin and answers one line on stdout:
`ok ...` once the page shows what was asked, `fail REASON` if it does not in
time (the Rust test fails then). Every wait polls the page for a condition
(no fixed sleeps), with generous time limits for a loaded machine.
Commands:
  {"row": NUMBER, "public_ip": IP}            the registrations table has the row
  {"event": KIND, "number": NUMBER, "text": S} the event list shows such an event
  {"call": CALLER, "callee": CALLEE}           a call row whose packet counters move
  {"screenshot": NAME}                         saves SCREENSHOT_DIR/NAME, answers its path
  {"quit": true}
"""

import json
import os
import sys

from playwright.sync_api import sync_playwright

WAIT_MS = 30_000


def answer(line):
    print(line, flush=True)


def row(page, cmd):
    number, ip = cmd["row"], cmd["public_ip"]
    sel = f'#reg-rows tr[data-number="{number}"]'
    page.wait_for_function(
        """([sel, ip]) => {
            const tr = document.querySelector(sel);
            return tr && tr.querySelector('.public-ip').textContent === ip
                && tr.querySelector('.state').textContent === 'registered';
        }""",
        arg=[sel, ip],
        timeout=WAIT_MS,
    )
    tr = page.locator(sel)
    cells = {c: tr.locator("." + c).inner_text() for c in ["state", "nat", "public-ip", "observed", "transport", "time-left"]}
    return "ok " + json.dumps(cells)


def event(page, cmd):
    sel = f'#event-list li[data-kind="{cmd["event"]}"][data-number="{cmd["number"]}"]'
    page.wait_for_function(
        """([sel, text]) => [...document.querySelectorAll(sel)].some(li => li.textContent.includes(text))""",
        arg=[sel, cmd.get("text", "")],
        timeout=WAIT_MS,
    )
    return "ok " + page.locator(sel).first.inner_text().replace("\n", " ")


def call(page, cmd):
    # A row for the call, then its packet count going up between two reads.
    find = """([caller, callee]) => {
        const tr = [...document.querySelectorAll('#call-rows tr[data-call-id]')].find(tr =>
            tr.querySelector('.caller').textContent === caller && tr.querySelector('.callee').textContent === callee);
        return tr ? Number(tr.dataset.packets) : null;
    }"""
    args = [cmd["call"], cmd["callee"]]
    page.wait_for_function(f"args => {{ const n = ({find})(args); return n !== null && n > 0; }}", arg=args, timeout=WAIT_MS)
    first = page.evaluate(find, args)
    page.wait_for_function(f"([args, first]) => ({find})(args) > first", arg=[args, first], timeout=WAIT_MS)
    second = page.evaluate(find, args)
    return f"ok packets {first} -> {second}"


def main():
    url, chromium, shots = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(shots, exist_ok=True)
    with sync_playwright() as p:
        # --no-sandbox: the tests run as root, where chromium's sandbox will not start.
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 800})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_function("document.getElementById('status').textContent === 'live'", timeout=WAIT_MS)
        answer("ok ready")
        for line in sys.stdin:
            cmd = json.loads(line)
            try:
                if "row" in cmd:
                    answer(row(page, cmd))
                elif "event" in cmd:
                    answer(event(page, cmd))
                elif "call" in cmd:
                    answer(call(page, cmd))
                elif "screenshot" in cmd:
                    path = os.path.join(shots, cmd["screenshot"])
                    page.screenshot(path=path, full_page=True)
                    answer("ok " + path)
                elif "quit" in cmd:
                    break
                if errors:
                    answer("fail page errors: " + "; ".join(errors))
                    break
            except Exception as e:  # a timeout names what it waited for
                page.screenshot(path=os.path.join(shots, "failed.png"), full_page=True)
                answer("fail " + str(e).replace("\n", " "))
                break
        browser.close()


if __name__ == "__main__":
    main()
