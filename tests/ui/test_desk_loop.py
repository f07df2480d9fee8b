#!/usr/bin/python3
"""The case loop end to end in headless Chromium (issue 16, "done when"): the real detector
plays a clip in real time, delivering to the real streetorder-intake with its desk, and an
operator works the case in the browser.

- the parked car's case appears in the queue while the clip plays; opened from the queue;
- "Verify 核查": the detector looks at the place and the answer, present with its still,
  appears on the case page;
- "Reject 误报": the detector is told to dismiss, ends the episode `dismissed`, the page shows
  the case rejected;
- when the clip has ended, the same car has raised no new case (the queue holds the one);
- the browser logged no error.

The demo scene cut to 65 s, bay-1 only with its dwell shortened to 5 s (as the e2e test
desk-detector, which does the same through the JSON API). About 80 s.

Needs Debian's chromium, chromium-driver and python3-selenium; skipped without them unless CI
is set.

Usage: test_desk_loop.py STREETORDER INTAKE WORKDIR     (TAP output)
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "commands"))
sys.path.insert(0, HERE)
from detector_peer import DeskIntake  # noqa: E402
from sotest import Daemon, check, finish  # noqa: E402
from test_auth import send_as  # noqa: E402
from test_commands import clip  # noqa: E402
from test_desk_detector import bay_config  # noqa: E402
from test_desk import rows, state_of  # noqa: E402
from test_editor import in_browser, need_browser  # noqa: E402


def steps(page, desk, d):
    send_as(page, "chief")
    page.d.get(desk.base + "/")
    deadline = time.time() + 45
    while not rows(page) and time.time() < deadline:
        time.sleep(1)
        page.d.refresh()
    found = rows(page)
    if not check(len(found) == 1, f"the parked car's case is in the queue ({found})"):
        return
    ep = found[0][0]
    page.el(f"tr.case[data-episode='{ep}']").click()
    page.wait(lambda drv: drv.current_url.endswith("/cases/" + ep), 10)
    page.wait(lambda drv: state_of(page) == "new", 10)

    page.el("#act-verify").click()
    page.wait(lambda drv: drv.execute_script(
        "var v = document.getElementById('verification'), i = v && v.querySelector('img');"
        "return v && v.dataset.result === 'present' && i && i.naturalWidth > 0;"), 20)
    text = page.js("return document.getElementById('verification').textContent")
    check("present" in text, f"Verify 核查: the detector's answer, present, is on the page with "
                             f"its still ({text!r})")

    page.el("#act-reject").click()
    page.wait(lambda drv: state_of(page) == "rejected", 15)
    end_reason = None
    for _ in range(20):
        status, body = desk.api(f"/api/cases/{ep}")
        end_reason = body.get("end_reason") if status == 200 else None
        if end_reason:
            break
        time.sleep(0.5)
    check(end_reason == "dismissed", f"Reject 误报: the detector ended the episode dismissed, the "
                                     f"case is rejected ({end_reason})")

    check(d.wait_log("CPU seconds by stage", 60), "the clip ended")
    time.sleep(1)
    page.d.get(desk.base + "/")
    page.wait(lambda drv: len(rows(page)) >= 1, 10)
    after = rows(page)
    check([r[0] for r in after] == [ep], f"the same car raised no new case ({after})")
    errors = [e["message"] for e in page.d.get_log("browser") if e.get("level") == "SEVERE"]
    check(not errors, f"the browser logged no error ({errors[:2]})")


def main():
    need_browser()
    binary, intake, workdir = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
    demo_yaml, video = clip(workdir)
    with tempfile.TemporaryDirectory(prefix="so_ui_deskdet_") as tmp:
        desk = DeskIntake(intake, tmp)
        try:
            check(desk.ready(), "the desk answers")
            cfg = bay_config(demo_yaml, video, "det-ui", tmp,
                             {"endpoint": desk.endpoint, "drain_s": 5})
            with Daemon(binary, cfg, tmp) as d:
                in_browser(steps, desk, d, size=(1366, 900))
                d.stop()
        finally:
            desk.proc.terminate()
            desk.proc.wait()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
