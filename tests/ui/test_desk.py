#!/usr/bin/python3
"""The case desk's pages (issue 16 item 2) in headless Chromium, on the real
build/streetorder-intake with --http and --users, fed by a real detector-side peer
(tests/lib/detector_peer.py: a ZeroMQ DEALER sending SOE1 events and answering the intake's
CMD messages with CRES, as the detector does). The lead's end-to-end variant replaces the peer
by the real detector on a clip; the browser steps are these.

As an operator would use it:
- the queue shows one row per case with its state, GB/T code and name, dwell and the
  before/at thumbnails loaded; filtering by camera leaves the one case of that camera;
- a case page (opened from the queue): "Confirm 立案" makes it confirmed, the history names the
  operator;
- "Verify 核查": the peer receives the verify command, and the verification record's result and
  still appear on the page;
- "Reject 误报" on the other case: the peer receives a dismiss command with reason
  false_alarm, the page shows the case rejected, its actions disabled, the command answered;
- the statistics page counts the cases in the current hour of day and per zone;
- a viewer (watcher) sees the case but its action is refused (403) with a message;
- the browser logged no error but that 403.

Needs Debian's chromium, chromium-driver and python3-selenium; skipped without them unless CI
is set.

Usage: test_desk.py INTAKE_BIN     (TAP output)
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from detector_peer import desk_with_peer, two_episodes  # noqa: E402
from sotest import check, finish  # noqa: E402
from test_auth import send_as  # noqa: E402
from test_editor import in_browser, need_browser  # noqa: E402


def rows(page):
    return page.js("return Array.from(document.querySelectorAll('#cases tr.case')).map("
                   "function (r) { return [r.dataset.episode, r.dataset.state,"
                   " r.querySelector('.category').textContent, r.querySelector('.dwell')"
                   ".textContent, Array.from(r.querySelectorAll('.thumbs img')).map("
                   "function (i) { return [i.dataset.role, i.naturalWidth]; })]; });")


def queue_steps(page, desk, ep1, ep2):
    page.d.get(desk.base + "/")
    page.wait(lambda d: len(rows(page)) == 2, 20)
    page.wait(lambda d: all(w > 0 for r in rows(page) for _, w in r[4]), 20)
    by_id = {r[0]: r for r in rows(page)}
    r1 = by_id.get(ep1.id, [None] * 5)
    check(r1[1] == "new" and r1[2].strip() == "0505 机动车乱停放" and r1[3] == "20s",
          f"the queue shows the case: new, GB/T code and name, dwell ({r1[:4]})")
    check(sorted(role for role, _ in r1[4]) == ["at", "before"],
          f"... with its before and at thumbnails loaded ({r1[4]})")
    from selenium.webdriver.support.ui import Select
    Select(page.el("select[name=camera]")).select_by_value("cam-2")
    page.wait(lambda d: [r[0] for r in rows(page)] == [ep2.id], 10)
    check("camera=cam-2" in page.d.current_url, "filtering by camera leaves its one case")
    Select(page.el("select[name=camera]")).select_by_value("")
    page.wait(lambda d: len(rows(page)) == 2, 10)
    page.el(f"tr.case[data-episode='{ep1.id}']").click()
    page.wait(lambda d: d.current_url.endswith("/cases/" + ep1.id), 10)


def state_of(page):
    return page.js("var b = document.querySelector('#case-title .badge');"
                   "return b ? b.dataset.state : null;")


def case_steps(page, desk, peer, ep1, ep2):
    page.wait(lambda d: state_of(page) == "new", 10)
    page.el("#note").send_keys("车辆确认")
    page.el("#act-confirm").click()
    page.wait(lambda d: state_of(page) == "confirmed", 10)
    hist = page.js("return Array.from(document.querySelectorAll('#history tr')).map("
                   "function (r) { return r.textContent; });")
    check(any("chief" in h and "confirm" in h and "车辆确认" in h for h in hist),
          f"Confirm 立案: the case is confirmed, the history names the operator ({hist})")
    page.el("#act-verify").click()
    got = peer.wait_command(lambda b: b.get("command") == "verify")
    check(got and got[1].get("episode_id") == ep1.id, "Verify 核查: the detector receives verify")
    page.wait(lambda d: d.execute_script(
        "var v = document.getElementById('verification'), i = v.querySelector('img');"
        "return v.dataset.result === 'present' && i && i.naturalWidth > 0;"), 15)
    text = page.js("return document.getElementById('verification').textContent")
    check("present" in text, f"... and the answer appears with its still ({text!r})")

    page.d.get(desk.base + "/cases/" + ep2.id)
    page.wait(lambda d: state_of(page) == "new", 10)
    page.el("#act-reject").click()
    got = peer.wait_command(lambda b: b.get("command") == "dismiss")
    check(got and got[1].get("episode_id") == ep2.id and got[1].get("reason") == "false_alarm",
          f"Reject 误报: the detector receives dismiss, reason false_alarm ({got})")
    page.wait(lambda d: state_of(page) == "rejected", 10)
    page.wait(lambda d: d.execute_script(
        "var r = document.querySelector('#commands tr[data-command=dismiss]');"
        "return r && r.dataset.status === 'ok';"), 10)
    disabled = page.js("return ['confirm','reject','verify','close'].map(function (a) {"
                       " return document.getElementById('act-' + a).disabled; });")
    check(disabled == [True] * 4, f"... the case is rejected, its actions disabled, the "
                                  f"command answered ({disabled})")
    msg = page.js("return [document.getElementById('message').dataset.kind,"
                  " document.getElementById('message').textContent]")
    check(msg[0] == "ok" and "dismiss sent" in msg[1], f"... and the page says so ({msg})")


def stats_steps(page, desk):
    page.d.get(desk.base + "/stats")
    page.wait(lambda d: d.execute_script(
        "return document.querySelectorAll('#by-hour div').length") == 24, 10)
    hour = int(time.strftime("%H"))
    n = page.js(f"return document.querySelector('#by-hour div[data-hour=\"{hour}\"]')"
                ".dataset.cases")
    zones = page.js("return document.querySelectorAll('#by-zone tr').length")
    check(n == "2" and zones == 2, f"statistics: 2 cases at {hour}:00, 2 zones ({n}, {zones})")


def viewer_steps(page, desk, ep1):
    send_as(page, "watcher")
    page.d.get(desk.base + "/cases/" + ep1.id)
    page.wait(lambda d: state_of(page) == "confirmed", 10)
    page.el("#act-close").click()
    page.wait(lambda d: d.execute_script(
        "return document.getElementById('message').dataset.kind === 'error'"), 10)
    msg = page.js("return document.getElementById('message').textContent")
    check("HTTP 403" in msg or "403" in msg, f"a viewer's action is refused ({msg!r})")


def cases(page, desk, peer, ep1, ep2):
    send_as(page, "chief")
    queue_steps(page, desk, ep1, ep2)
    case_steps(page, desk, peer, ep1, ep2)
    stats_steps(page, desk)
    errors = [e["message"] for e in page.d.get_log("browser") if e.get("level") == "SEVERE"]
    check(not errors, f"the browser logged no error ({errors[:2]})")
    viewer_steps(page, desk, ep1)


def main():
    need_browser()
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="so_ui_desk_") as tmp, \
            desk_with_peer(binary, tmp) as (desk, peer):
        ep1, ep2 = two_episodes()
        check(peer.wait_acked(peer.opened(ep1)) and peer.wait_acked(peer.opened(ep2)),
              "the detector peer delivers two cases")
        in_browser(cases, desk, peer, ep1, ep2, size=(1366, 900))
    return finish()


if __name__ == "__main__":
    sys.exit(main())
