#!/usr/bin/python3
"""The operators' console (issue 17) in headless Chromium at 1366x768, on the real daemon
running three cameras in real time: `demo` and `demo-2` (the generated demo scene) and `gate`,
whose RTSP server does not exist (blind), delivering to a real streetorder-intake.

Checks, as an operator would use it:
- the grid (/) shows the three cameras, `gate` blind in red with since when, the others live
  with their snapshot loaded, analysed fps and open episodes, and the delivery state (pending,
  last acknowledgement once the intake acknowledged an event); it fits 1366 px wide;
- the camera page (/cameras/demo/, opened from the grid): the overlay layers are drawn and each
  toggle hides and shows its layer;
- bay-1's status while the clip plays: the parked car's age at rest rises to dwell_s (20 s),
  the episode opens, and the page links its evidence images (which the server serves as JPEG);
  status.json says the same;
- in Chinese (Accept-Language: zh-CN): the grid says 无信号 for the blind camera, the camera page
  names the kind 机动车违停 and the GB/T category 机动车乱停放, the editor's buttons and kinds
  are in Chinese;
- the browser logged no error.

SO_UI_SHOTS=DIR keeps small PNG screenshots of the pages (docs/http.md shows them).
Needs Debian's chromium, chromium-driver and python3-selenium; skipped without them unless CI
is set.

Usage: test_console.py BIN INTAKE_BIN SCENES_DIR     (TAP output)
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from sotest import (Daemon, check, finish, free_port, http_get, load_config,  # noqa: E402
                    note, scene, wait_http)
from test_editor import in_browser, need_browser  # noqa: E402

SIZE = (1366, 768)


def shot(page, name):
    """A half-size PNG of the viewport into $SO_UI_SHOTS/name (docs/http.md)."""
    out = os.environ.get("SO_UI_SHOTS")
    if not out:
        return
    import cv2
    import numpy as np
    img = cv2.imdecode(np.frombuffer(page.d.get_screenshot_as_png(), np.uint8), cv2.IMREAD_COLOR)
    small = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    os.makedirs(out, exist_ok=True)
    cv2.imwrite(os.path.join(out, name), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def grid_cases(page, base):
    page.d.get(base + "/")
    page.wait(lambda d: d.execute_script(
        "return document.querySelectorAll('#grid .cam').length") == 3, 30)
    cams = page.js("return Array.from(document.querySelectorAll('#grid .cam')).map(function (c) {"
                   " var i = c.querySelector('img'); return [c.dataset.camera, c.dataset.health,"
                   " getComputedStyle(c).borderTopColor, i.naturalWidth,"
                   " c.querySelector('.since').textContent, c.querySelector('.stats').textContent];"
                   "});")
    by_id = {c[0]: c for c in cams}
    check(sorted(by_id) == ["demo", "demo-2", "gate"], f"the grid shows the 3 cameras ({cams})")
    gate = by_id.get("gate", [None] * 6)
    check(gate[1] == "blind" and gate[2] == "rgb(238, 51, 51)",
          f"the blind camera stands out in red ({gate[1]}, border {gate[2]})")
    check(gate[4].startswith("since ") and "Connection refused" in gate[4],
          f"... with since when and why ({gate[4]!r})")
    page.wait(lambda d: d.execute_script(
        "return document.querySelector('.cam[data-camera=demo] img').naturalWidth") == 640, 20)
    demo = page.js("var c = document.querySelector('.cam[data-camera=demo]');"
                   "return [c.dataset.health, c.querySelector('.stats').textContent,"
                   " c.querySelector('img').naturalWidth, getComputedStyle(c).borderTopColor];")
    check(demo[0] == "live" and demo[2] == 640 and demo[3] == "rgb(51, 51, 51)",
          f"a live camera shows its snapshot, in grey ({demo})")
    check("analysed fps" in demo[1] and "open episodes" in demo[1],
          f"... its analysed fps and open episodes ({demo[1]!r})")
    links = page.js("return Array.from(document.querySelectorAll("
                    "'.cam[data-camera=demo] .links a')).map(function (a) { return a.href; });")
    want = [base + "/cameras/demo/" + p for p in ("", "editor", "snapshot.jpg", "frame.jpg",
                                                   "zones.json", "status.json")]
    check(links == want, f"each card links the camera's pages ({links})")
    width = page.js("return document.documentElement.scrollWidth")
    check(width <= SIZE[0], f"the grid fits 1366 px wide (scrollWidth {width})")
    shot(page, "console-grid.png")


def toggle_cases(page):
    layers = ["zones", "rest", "tracks", "detections", "candidates"]
    n_zones = page.js("return document.querySelectorAll('#g-zones polygon').length")
    check(n_zones == 3, f"the zones layer draws the 3 zones ({n_zones})")
    for name in layers:
        sel = "#rest" if name == "rest" else f"#g-{name}"
        shown = page.js(f"return getComputedStyle(document.querySelector('{sel}')).display")
        page.el(f"#t-{name}").click()
        hidden = page.js(f"return getComputedStyle(document.querySelector('{sel}')).display")
        page.el(f"#t-{name}").click()
        again = page.js(f"return getComputedStyle(document.querySelector('{sel}')).display")
        check(shown != "none" and hidden == "none" and again != "none",
              f"toggle {name}: shown, hidden, shown ({shown}, {hidden}, {again})")


def bay_row(page):
    """bay-1's followed candidate row: [age, dwell, counted, reason, state, evidence hrefs]."""
    return page.js(
        "var s = document.querySelector('.zone[data-zone=bay-1]');"
        "if (!s) return null;"
        "var rows = Array.from(s.querySelectorAll('tr.cand')).filter(function (r) {"
        " return r.querySelector('.ep-state'); });"
        "if (!rows.length) return null; var r = rows[0];"
        "return [parseFloat(r.dataset.age), parseFloat(r.dataset.dwell), r.dataset.counted,"
        " r.dataset.reason, r.querySelector('.ep-state').dataset.state,"
        " Array.from(r.querySelectorAll('a.evidence')).map(function (a) { return a.href; })];")


def status_cases(page, base):
    """Follow bay-1 while the car rests: its age rises to the dwell, the episode opens."""
    ages, opened = [], None
    t_end = time.monotonic() + 90
    while time.monotonic() < t_end:
        row = bay_row(page)
        if row:
            ages.append(row[0])
            if row[4] == "open" and row[5]:
                opened = row
                break
        time.sleep(0.5)
    note(f"bay-1 ages seen: {ages[:3]} ... {ages[-3:]} ({len(ages)} samples)")
    check(len(ages) >= 5 and ages == sorted(ages) and ages[0] < 20,
          "the candidate's age at rest rises while the clip plays")
    check(opened is not None and opened[0] >= opened[1] == 20,
          f"it reaches dwell_s (20 s) and the episode opens ({opened})")
    hrefs = opened[5] if opened else []
    check(any(h.endswith("-rest.jpg") for h in hrefs) and
          any(h.endswith("-confirm.jpg") for h in hrefs),
          f"the page links the episode's evidence images ({hrefs})")
    for h in hrefs[:2]:
        st, body, headers = http_get(h)
        check(st == 200 and body[:2] == b"\xff\xd8", f"{h.rsplit('/', 1)[-1]} is served as JPEG")
    st, body, _ = http_get(base + "/cameras/demo/status.json")
    doc = json.loads(body) if st == 200 else {}
    bay = next((z for z in doc.get("zones", []) if z["id"] == "bay-1"), {})
    cands = [c for c in bay.get("candidates", []) if c.get("episode")]
    check(bay.get("enforced") is True and cands and cands[0]["episode"]["state"] == "open",
          f"status.json says the same ({bay.get('enforced')}, {cands[:1]})")
    shot(page, "console-camera.png")


def delivery_case(page, base):
    page.d.get(base + "/")
    ok = page.wait(lambda d: "last acknowledgement" in d.find_element(
        "css selector", "#delivery").text and "never" not in d.find_element(
        "css selector", "#delivery").text, 30)
    text = page.el("#delivery").text
    check(ok and "pending in the outbox" in text,
          f"the grid shows delivery: pending and the last acknowledgement ({text!r})")
    opens = page.js("return document.querySelector('.cam[data-camera=demo]').dataset.open")
    check(int(opens or 0) >= 1, f"the grid counts the demo camera's open episodes ({opens})")


def chinese_cases(page, base):
    page.d.execute_cdp_cmd("Network.enable", {})
    page.d.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                           {"headers": {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}})
    page.d.get(base + "/")
    page.wait(lambda d: d.execute_script("return document.documentElement.lang") == "zh" and
              d.execute_script("return document.querySelectorAll('#grid .cam').length") == 3, 30)
    badge = page.js("return document.querySelector('.cam[data-camera=gate] .badge').textContent")
    check(badge == "无信号", f"in Chinese the blind camera is 无信号 ({badge})")
    shot(page, "console-grid-zh.png")
    page.d.get(base + "/cameras/demo/")
    page.wait(lambda d: d.execute_script(
        "return document.querySelector('.zone[data-zone=bay-1] h3') !== null"), 30)
    h3 = page.js("return document.querySelector('.zone[data-zone=bay-1] h3').textContent")
    check("机动车违停" in h3 and "0505" in h3 and "机动车乱停放" in h3,
          f"the camera page names kind and GB/T category in Chinese ({h3})")
    toggles = page.js("return document.getElementById('toggles').textContent")
    check("区域" in toggles, f"the overlay toggles are in Chinese ({toggles})")
    shot(page, "console-camera-zh.png")
    page.d.get(base + "/cameras/demo/editor")
    page.wait(lambda d: d.execute_script("return document.body.dataset.ready") == "1", 30)
    words = page.js("return [document.getElementById('new-zone').textContent,"
                    " document.getElementById('export').textContent,"
                    " document.querySelector('#zone-kind option').textContent];")
    check(words == ["新建区域", "导出 YAML", "机动车违停 (illegal_parking)"],
          f"the editor speaks Chinese too, kinds by name ({words})")


def console_cases(page, base):
    grid_cases(page, base)
    page.el(".cam[data-camera=demo] a.id").click()
    page.wait(lambda dr: dr.current_url.endswith("/cameras/demo/") and dr.execute_script(
        "return document.body.dataset.ready") == "1", 30)
    check(True, "the grid opens the camera page")
    toggle_cases(page)
    status_cases(page, base)
    delivery_case(page, base)
    logs = [e for e in page.d.get_log("browser") if e.get("level") == "SEVERE"
            and "rest.jpg" not in e.get("message", "")        # 503 until a mask exists
            and "favicon.ico" not in e.get("message", "")]
    check(not logs, f"the browser logged no error ({logs[:3]})")
    chinese_cases(page, base)


def config(d, tmp, port, endpoint):
    cfg = load_config(os.path.join(d, "demo.yaml"))
    cam = cfg["cameras"][0]
    twin = dict(cam, id="demo-2", zones=[dict(z) for z in cam["zones"]])
    gate = {"id": "gate", "url": f"rtsp://127.0.0.1:{free_port()}/ch1",
            "zones": [dict(cam["zones"][0], id="gate-bay")]}
    cfg["cameras"] = [cam, twin, gate]
    cfg["detector"] = {"id": "ui-console", "state_dir": os.path.join(tmp, "state")}
    cfg["http"] = {"listen": f"127.0.0.1:{port}"}
    cfg["outputs"] = {"deliver": {"endpoint": endpoint, "resend_s": 1}}
    return cfg


def main():
    binary, intake_bin, scenes = sys.argv[1], sys.argv[2], sys.argv[3]
    need_browser()
    d = scene(scenes, "demo")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        endpoint = "ipc://" + os.path.join(tmp, "intake.sock")
        intake = subprocess.Popen([intake_bin, "--bind", endpoint, "--db",
                                   os.path.join(tmp, "intake.sqlite"), "--quiet"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        daemon = Daemon(binary, config(d, tmp, port, endpoint), tmp, config_name="ui.yaml",
                        events=None)
        base = f"http://127.0.0.1:{port}"
        try:
            check(wait_http(base + "/cameras/demo/frame.jpg", 30), "the demo camera has a frame")
            in_browser(console_cases, base, size=SIZE)
            check(daemon.running(), "the daemon ran throughout")
        finally:
            daemon.stop(signal.SIGTERM, timeout=10)
            intake.send_signal(signal.SIGTERM)
            intake.wait(10)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
