#!/usr/bin/python3
"""The console behind http.auth (issue 16 item 4) in headless Chromium, on the real daemon
running the demo scene in real time: the browser sends HTTP Basic credentials (an
Authorization header set through the DevTools protocol, as a browser does after its login
dialog), and the pages' own requests (JSON by fetch, snapshots as images) carry them.

- without credentials the browser gets 401 (headless Chromium shows its error page), not the
  console;
- as a viewer: the grid shows the camera with its snapshot loaded, the camera page gets ready
  (its status.json, images and i18n.json all answered), no request failed; the zone editor is
  403;
- as an operator: the zone editor gets ready (it loads /fields.json, zones.json, the frame).

Needs Debian's chromium, chromium-driver and python3-selenium; skipped without them unless CI
is set.

Usage: test_auth.py BIN SCENES_DIR     (TAP output)
"""
import base64
import os
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from sotest import (Daemon, check, finish, free_port, http_get, load_config,  # noqa: E402
                    scene, wait_for)
from test_editor import in_browser, need_browser  # noqa: E402

USERS = {"watcher": ("viewer", "view-pw 3d1"), "chief": ("operator", "op-pw 8e2")}


def authorization(user):
    token = base64.b64encode(f"{user}:{USERS[user][1]}".encode()).decode()
    return {"Authorization": "Basic " + token}


def send_as(page, user):
    """Every request of the browser from now on carries `user`'s credentials (None: none)."""
    page.d.execute_cdp_cmd("Network.enable", {})
    page.d.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                           {"headers": authorization(user) if user else {}})


def cases(page, base):
    page.d.get(base + "/")
    grid = page.js("return document.querySelectorAll('#grid').length")
    refused = [e["message"] for e in page.d.get_log("browser")   # read, and emptied
               if "status of 401" in e.get("message", "")]
    check(not grid and refused, f"without credentials the browser gets 401, not the console "
                                f"(grid {grid}, {refused[:1]})")

    send_as(page, "watcher")
    page.d.get(base + "/")
    page.wait(lambda d: d.execute_script(
        "var i = document.querySelector('.cam[data-camera=demo] img');"
        "return i ? i.naturalWidth : 0") == 640, 30)
    check(True, "as a viewer the grid shows the camera with its snapshot (fetch and img send "
                "the credentials)")
    page.d.get(base + "/cameras/demo/")
    page.wait(lambda d: d.execute_script("return document.body.dataset.ready") == "1", 30)
    check(True, "as a viewer the camera page gets ready")
    logs = [e for e in page.d.get_log("browser") if e.get("level") == "SEVERE"
            and "rest.jpg" not in e.get("message", "")        # 503 until a mask exists
            and "favicon.ico" not in e.get("message", "")]
    check(not logs, f"as a viewer no request of the pages failed ({logs[:3]})")
    page.d.get(base + "/cameras/demo/editor")
    text = page.js("return document.body.innerText")
    check("operator role" in text, f"as a viewer the zone editor is 403 ({text[:60]!r})")

    send_as(page, "chief")
    page.d.get(base + "/cameras/demo/editor")
    page.wait(lambda d: d.execute_script("return document.body.dataset.ready") == "1", 60)
    check(True, "as an operator the zone editor gets ready")


def main():
    binary, scenes = sys.argv[1], sys.argv[2]
    need_browser()
    d = scene(scenes, "demo")
    with tempfile.TemporaryDirectory() as tmp:
        users = os.path.join(tmp, "users")
        with open(users, "w") as f:
            for name, (role, pw) in USERS.items():
                h = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=pw, text=True,
                                   capture_output=True, check=True).stdout.strip()
                f.write(f"{name} {role} {h}\n")
        port = free_port()
        cfg = load_config(os.path.join(d, "demo.yaml"))
        cfg["detector"] = {"id": "ui-auth", "state_dir": os.path.join(tmp, "state")}
        cfg["http"] = {"listen": f"127.0.0.1:{port}", "auth": users}
        base = f"http://127.0.0.1:{port}"
        with Daemon(binary, cfg, tmp, config_name="ui-auth.yaml", events=None) as daemon:
            check(wait_for(lambda: http_get(base + "/cameras/demo/frame.jpg",
                                            headers=authorization("watcher"))[0] == 200, 30),
                  "the demo camera has a frame (as a viewer)")
            in_browser(cases, base)
            check(daemon.running(), "the daemon ran throughout")
            daemon.stop(signal.SIGTERM, timeout=10)     # leaving the block kills it if need be
    return finish()


if __name__ == "__main__":
    sys.exit(main())
