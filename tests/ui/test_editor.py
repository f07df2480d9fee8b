#!/usr/bin/python3
"""The zone editor page (GET /cameras/<id>/editor, issue 5 item 4) in headless Chromium, on the
real daemon running the generated demo scene in real time with `http.listen` on a free port.

Checks, as an operator would use it:
- frame.jpg is the analysed frame without overlays (the snapshot's amber zone tint is absent)
  with the privacy mask still black; zones.json lists the configured zones and no URL;
- the page loads (frame and zones), lists the existing zones, and selects one clicked on;
- a new zone drawn by clicking 4 points on the image, one point dragged, id/kind/dwell_s set,
  exported: the YAML parses, its polygon matches the clicked (and dragged-to) pixel positions /
  image size within 0.01, the other zones keep every key they had, and a config with that
  `zones:` block passes `streetorder check -c` (exit 0);
- negative: a zone with 2 points is flagged inline, and Export refuses (empty YAML, the error
  listed); a duplicate id is flagged too;
- the browser logged no error.

Needs Debian's chromium, chromium-driver and python3-selenium (scripts/bootstrap installs them);
without them the test is skipped ("1..0 # SKIP"), unless CI is set, where it fails.
Set SO_UI_SCREENSHOT=FILE.png to keep a screenshot of the page after the export.

Usage: test_editor.py BIN SCENES_DIR     (TAP output)
"""
import json
import os
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from sotest import (Daemon, check, finish, free_port, http_get, load_config,  # noqa: E402
                    scene, skip, wait_http)

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def get(url):
    """(status, body bytes); status None when the connection failed."""
    return http_get(url)[:2]


def missing_tools():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium")
    for mod in ("yaml", "cv2", "numpy"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(f"python3 module {mod}")
    return missing


def need_browser():
    """Skip the test (exit 77; a failure in CI) without Chromium, its driver or selenium."""
    missing = missing_tools()
    if missing:
        skip(f"missing {', '.join(missing)} (scripts/bootstrap installs them)")


def decode(jpg):
    import cv2
    import numpy as np
    return cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR) if jpg else None


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # --no-sandbox: containers run tests as root, where Chromium's sandbox cannot start.
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,900", "--no-first-run", "--disable-extensions",
              "--disable-background-networking", "--disable-component-update"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    drv.set_script_timeout(30)
    return drv


def in_browser(cases, *args, size=None):
    """Start headless Chromium (at `size`, a (w, h) window, if given), run cases(Page, *args)
    and quit. A browser that does not start, and a step that raises (a timeout, a missing
    element), are failed checks, so the TAP output goes on to the daemon's checks."""
    try:
        drv = browser()
        if size:
            drv.set_window_size(*size)
    except Exception as e:     # noqa: BLE001 - reported as a failed check
        check(False, f"headless Chromium starts: {e}")
        return
    try:
        cases(Page(drv), *args)
    except Exception as e:     # noqa: BLE001 - a timeout or a missing element
        check(False, f"browser steps ran to the end: {type(e).__name__}: "
                     f"{str(e).splitlines()[0] if str(e) else ''}")
    finally:
        drv.quit()


class Page:
    """The editor in the browser: helpers named after what the operator does."""

    def __init__(self, drv):
        from selenium.webdriver.support.ui import WebDriverWait
        self.d = drv
        self.wait = lambda cond, t=30: WebDriverWait(drv, t, poll_frequency=0.1).until(cond)

    def el(self, css):
        return self.d.find_element("css selector", css)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def image_box(self):
        """(left, top, width, height, natural_w, natural_h) of the frame, viewport pixels."""
        return self.js("var i = document.getElementById('frame'), r = i.getBoundingClientRect();"
                       "return [r.left, r.top, r.width, r.height, i.naturalWidth,"
                       " i.naturalHeight];")

    def at(self, px, py):
        """Viewport point of image pixel (px, py) (natural pixels)."""
        left, top, w, h, nw, nh = self.image_box()
        return round(left + px * w / nw), round(top + py * h / nh)

    def click_image(self, px, py):
        from selenium.webdriver.common.actions.action_builder import ActionBuilder
        x, y = self.at(px, py)
        ab = ActionBuilder(self.d)
        ab.pointer_action.move_to_location(x, y).click()
        ab.perform()

    def drag_image(self, p0, p1, steps=8):
        from selenium.webdriver.common.actions.action_builder import ActionBuilder
        (x0, y0), (x1, y1) = self.at(*p0), self.at(*p1)
        ab = ActionBuilder(self.d)
        pa = ab.pointer_action
        pa.move_to_location(x0, y0).pointer_down()
        for i in range(1, steps + 1):
            pa.move_to_location(round(x0 + (x1 - x0) * i / steps),
                                round(y0 + (y1 - y0) * i / steps))
        pa.pointer_up()
        ab.perform()

    def set_field(self, css, value):
        e = self.el(css)
        e.clear()
        e.send_keys(value)

    def zone_ids(self):
        return self.js("return Array.from(document.querySelectorAll('#zone-list li'))"
                       ".map(function (l) { return l.dataset.zoneId; });")

    def texts(self, css):
        return [e.text for e in self.d.find_elements("css selector", css)]

    def export(self):
        """Click Export and wait for the daemon's check: (YAML text, "ok" or "refused")."""
        self.el("#export").click()
        self.wait(lambda d: d.find_element("css selector", "#yaml").get_attribute(
            "data-state") in ("ok", "refused"), 30)
        return (self.el("#yaml").get_attribute("value"),
                self.el("#yaml").get_attribute("data-state"))

    def select_zone(self, zone_id):
        self.el(f"#zone-list li[data-zone-id='{zone_id}']").click()


def near(a, b, eps=0.01):
    return all(abs(x - y) <= eps for x, y in zip(a, b)) and len(a) == len(b)


def run_check(binary, cfg_path):
    p = subprocess.run([binary, "check", "-c", cfg_path], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, (p.stdout + p.stderr).strip()


def check_message(binary, cfg, tmp, zone):
    """What `streetorder check` says about the camera with only `zone`: its messages without
    the file:line:col and "cameras[0]." (as the page shows them), and its exit status."""
    cam = dict(cfg["cameras"][0])
    cam["zones"] = [zone]
    path = os.path.join(tmp, "bad.yaml")
    with open(path, "w") as f:
        json.dump({"cameras": [cam]}, f)
    rc, out = run_check(binary, path)
    msgs = [ln.split(": cameras[0].", 1)[1] for ln in out.splitlines() if ": cameras[0]." in ln]
    return rc, msgs


def every_key_cases(page, binary, cfg, tmp):
    """Every zone key has a field; a schedule and a class filter edited on bay-1; an invalid
    schedule and an out-of-range min_score refused with `streetorder check`'s words; what the
    zone would see now."""
    keys = page.js("return Array.from(document.querySelectorAll('#more-keys [data-key]'))"
                   ".map(function (e) { return e.dataset.key; });")
    want = ["warn_s", "min_occupancy", "schedule", "report_interval_s", "clear_s", "grid",
            "address", "category", "classes", "min_score", "min_box", "max_box",
            "require_class"]
    check(keys == want, f"the form has a field for every other zone key ({keys})")
    page.select_zone("bay-1")
    check(page.el("#f-grid").get_attribute("value") == "620102001001001",
          "bay-1's grid is in its field")
    page.wait(lambda d: d.find_element("css selector", "#zone-preview").text.startswith(
        "Would see now:"), 20)
    preview = page.el("#zone-preview").text
    check("% of it at rest" in preview, f"the zone shows what it would see now ({preview})")
    # An invalid schedule window: Export is refused with check's own message.
    page.set_field("#f-schedule", "mon-fri 25:00-20:00")
    text, state = page.export()
    errs = page.texts("#export-errors li")
    rc, want_msgs = check_message(binary, cfg, tmp, dict(
        cfg["cameras"][0]["zones"][0], schedule=["mon-fri 25:00-20:00"]))
    check(state == "refused" and text == "" and rc != 0 and errs and errs == want_msgs,
          f"a bad schedule is refused with check's message (page {errs}, check {want_msgs})")
    # An out-of-range min_score is flagged as it is typed, in check's words too.
    page.set_field("#f-schedule", "mon-fri 07:00-20:00\nsat 09:00-13:00")
    page.set_field("#f-min_score", "1.5")
    inline = page.texts("#zone-errors li")
    rc, want_msgs = check_message(binary, cfg, tmp, dict(cfg["cameras"][0]["zones"][0],
                                                         min_score=1.5))
    check(inline == ["min_score: expected a number from 0 to 1, got \"1.5\""] and
          [m.split(": ", 1)[1] for m in want_msgs] == [inline[0].split(": ", 1)[1]],
          f"min_score 1.5 is flagged inline as check says it ({inline}, check {want_msgs})")
    page.set_field("#f-min_score", "0.4")
    # A warning not before the case (warn_s >= dwell_s): flagged inline in check's words.
    dwell = cfg["cameras"][0]["zones"][0]["dwell_s"]
    page.set_field("#f-warn_s", str(dwell))
    inline = page.texts("#zone-errors li")
    rc, want_msgs = check_message(binary, cfg, tmp, dict(cfg["cameras"][0]["zones"][0],
                                                         warn_s=dwell))
    check(inline and [m.split(": ", 1)[1] for m in want_msgs] == [inline[0].split(": ", 1)[1]],
          f"warn_s {dwell} (not below dwell_s) is flagged inline as check says it ({inline}, "
          f"check {want_msgs})")
    page.set_field("#f-warn_s", "1\ue003")     # typed then erased (BACKSPACE): absent again
    page.set_field("#f-classes", "car, truck")
    errs = page.texts("#zone-errors li")
    check(not errs, f"with a valid schedule, classes and min_score: no error ({errs})")


def browser_cases(page, base, binary, d, cfg, tmp):
    import yaml
    page.d.get(base + "/cameras/demo/editor")
    page.wait(lambda drv: drv.execute_script("return document.body.dataset.ready") == "1", 60)
    check(True, "the editor loads its frame and zones")
    ids = page.zone_ids()
    check(ids == ["bay-1", "walk-1", "front-1"], f"the existing zones are listed ({ids})")
    left, top, w, h, nw, nh = page.image_box()
    check((nw, nh) == (640, 360), f"the frame is shown at the analysis size ({nw}x{nh})")

    # Click inside bay-1 (not adding points): it becomes the selected zone.
    page.click_image(0.45 * nw, 0.80 * nh)
    sel = page.texts("#zone-list li.selected .zid")
    check(sel == ["bay-1"] and page.el("#zone-id").get_attribute("value") == "bay-1",
          f"clicking a zone on the image selects it ({sel})")

    # A new zone: 4 clicks on the image, then one point dragged.
    page.el("#new-zone").click()
    clicks = [(420, 30), (600, 36), (610, 130), (415, 120)]
    for p in clicks:
        page.click_image(*p)
    page.el("#add-points").click()          # done adding points
    pts = page.js("return document.querySelectorAll('#overlay circle.handle').length")
    check(pts == 4, f"4 clicks give 4 points (got {pts})")
    moved_to = (630, 150)
    page.drag_image(clicks[2], moved_to)
    expected = [p for p in clicks]
    expected[2] = moved_to
    page.set_field("#zone-id", "shop-2")
    from selenium.webdriver.support.ui import Select
    Select(page.el("#zone-kind")).select_by_value("stall_encroachment")
    page.set_field("#zone-dwell", "45")
    errs = page.texts("#zone-errors li")
    check(not errs, f"the new zone has no inline error ({errs})")

    every_key_cases(page, binary, cfg, tmp)
    page.select_zone("shop-2")
    text, state = page.export()
    shot = os.environ.get("SO_UI_SCREENSHOT")
    if shot:
        page.d.save_screenshot(shot)
    check(state == "ok" and text.startswith("zones:\n"), f"Export gives YAML (state {state})")
    try:
        zones = yaml.safe_load(text)["zones"]
    except Exception as e:     # noqa: BLE001 - reported as a failed check
        zones = []
        check(False, f"the exported YAML parses: {e}")
    by_id = {z.get("id"): z for z in zones}
    new = by_id.get("shop-2", {})
    check(new.get("kind") == "stall_encroachment" and new.get("dwell_s") == 45,
          f"the new zone has the id, kind and dwell_s set ({new})")
    got = new.get("polygon", [])
    want = [[x / nw, y / nh] for x, y in expected]
    ok = len(got) == 4 and all(near(g, wp) for g, wp in zip(got, want))
    check(ok, f"polygon = clicked/dragged pixels / image size within 0.01 "
              f"(got {got}, want {[[round(a, 4), round(b, 4)] for a, b in want]})")
    digits = all(len(repr(c).split(".")[-1]) <= 4 for p in got for c in p)
    check(digits, "coordinates are rounded to 4 decimals")
    kept = True
    for z in cfg["cameras"][0]["zones"]:
        e = by_id.get(z["id"])
        if e is None:
            kept = False
            continue
        for k, v in z.items():
            same = near(sum(e[k], []), sum(v, [])) if k == "polygon" else e.get(k) == v
            kept = kept and same
    bay = by_id.get("bay-1", {})
    check(bay.get("schedule") == ["mon-fri 07:00-20:00", "sat 09:00-13:00"] and
          bay.get("classes") == ["car", "truck"] and bay.get("min_score") == 0.4,
          f"bay-1's new schedule, class filter and min_score are exported ({bay})")
    check(kept and list(by_id) == ["bay-1", "walk-1", "front-1", "shop-2"],
          "the other zones keep every key and value they had (address, grid, min_occupancy)")

    # A config with exactly that zones: block, pasted under the camera, passes `check`.
    cam = cfg["cameras"][0]
    lines = ["cameras:", f"  - id: {cam['id']}", f"    url: {json.dumps(cam['url'])}"]
    lines += ["    " + ln for ln in text.splitlines()]
    cfg_path = os.path.join(tmp, "exported.yaml")
    with open(cfg_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    rc, out = run_check(binary, cfg_path)
    check(rc == 0 and "shop-2" in out, f"streetorder check -c accepts it (rc {rc}: {out[-300:]})")

    # Negative: a zone with 2 points is flagged, and Export refuses.
    page.el("#new-zone").click()
    page.click_image(100, 200)
    page.click_image(200, 220)
    page.el("#add-points").click()
    errs = page.texts("#zone-errors li")
    check(any("at least 3 points" in e for e in errs),
          f"a 2-point zone shows an inline error ({errs})")
    flagged = page.js("return document.querySelectorAll('#zone-list li.invalid').length")
    check(flagged == 1, f"it is flagged in the zone list ({flagged})")
    text2, state2 = page.export()
    eerrs = page.texts("#export-errors li")
    check(text2 == "" and state2 == "refused" and any("at least 3 points" in e for e in eerrs),
          f"Export refuses it and says why (state {state2}, errors {eerrs})")
    page.set_field("#zone-id", "bay-1")
    errs = page.texts("#zone-errors li")
    check(any("used by another zone" in e for e in errs), f"a duplicate id is flagged ({errs})")

    # Deleting that zone makes the export valid again, with the 4 zones.
    page.el("#delete-zone").click()
    text3, state3 = page.export()
    n3 = len(yaml.safe_load(text3)["zones"]) if state3 == "ok" else 0
    check(state3 == "ok" and n3 == 4, f"after deleting it, Export works again ({state3}, {n3})")

    logs = [e for e in page.d.get_log("browser") if e.get("level") == "SEVERE"]
    check(not logs, f"the browser logged no error ({logs[:3]})")


def main():
    binary, scenes = sys.argv[1], sys.argv[2]
    need_browser()
    d = scene(scenes, "demo")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        cfg = load_config(os.path.join(d, "demo.yaml"))
        cam = cfg["cameras"][0]
        cam["privacy_masks"] = [[[0, 0], [0.25, 0], [0.25, 0.25], [0, 0.25]]]
        cfg["detector"] = {"id": "ui-test", "state_dir": os.path.join(tmp, "state")}
        cfg["http"] = {"listen": f"127.0.0.1:{port}"}
        daemon = Daemon(binary, cfg, tmp, config_name="ui.yaml", events=None)
        del cam["privacy_masks"]        # the exported config below has none
        base = f"http://127.0.0.1:{port}"
        try:
            first = wait_http(base + "/cameras/demo/frame.jpg", 30)
            check(first, "frame.jpg becomes available (200)")
            _, frame = get(base + "/cameras/demo/frame.jpg")
            _, snap = get(base + "/cameras/demo/snapshot.jpg")
            fimg, simg = decode(frame), decode(snap)
            if fimg is not None and simg is not None:
                check(fimg.shape == (360, 640, 3), f"frame.jpg is 640x360 ({fimg.shape})")
                check(int(fimg[4:80, 4:150].max()) <= 40,
                      f"the privacy mask is black on frame.jpg "
                      f"(max {int(fimg[4:80, 4:150].max())})")
                # bay-1's interior: the snapshot blends 18 % amber (R-B rises by ~40), the
                # frame has no overlay
                box = (slice(int(0.74 * 360), int(0.83 * 360)),
                       slice(int(0.32 * 640), int(0.64 * 640)))
                rb = [float((im[box][:, :, 2].astype(int) - im[box][:, :, 0]).mean())
                      for im in (fimg, simg)]
                check(rb[1] - rb[0] > 15,
                      f"frame.jpg has no zone overlay (mean R-B in bay-1 {rb[0]:.1f}, "
                      f"snapshot {rb[1]:.1f})")
            else:
                check(False, "frame.jpg and snapshot.jpg decode")
            st, body = get(base + "/cameras/demo/zones.json")
            check(st == 200 and b'"bay-1"' in body and b"demo.mp4" not in body
                  and b'"address": "' in body, f"zones.json lists the zones, no URL ({st})")
            st, body = get(base + "/")
            check(st == 200 and b'["link.editor", "editor"]' in body,
                  f"the camera grid at / links each camera's editor ({st})")

            in_browser(browser_cases, base, binary, d, cfg, tmp)
            check(daemon.running(), "the daemon ran throughout")
        finally:
            daemon.stop(signal.SIGTERM, timeout=10)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
