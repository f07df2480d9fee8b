#!/usr/bin/python3
"""End-to-end checks of the operators' HTTP server (issue 5 item 4) on the real daemon, with the
generated demo scene paced in real time (no --fast) like a camera, plus a second camera whose
RTSP server does not exist (it stays blind and never has a frame):

- /healthz answers 200 "ok" while the daemon runs its config;
- /metrics passes `promtool check metrics` (Debian's prometheus package), carries every
  documented family, shows frames increasing between two scrapes and the health of each
  camera (demo live, the unreachable one blind);
- /cameras/demo/snapshot.jpg is a JPEG of the analysis size (640x360) with the privacy mask
  blacked out; an unknown camera is 404, the blind one 503 (no frame yet); POST is 405;
- no page and no log line shows the unreachable camera's credentials;
- SIGTERM stops the daemon within 2 s, exit status 0, and the port is closed.

Usage: test_http.py BIN SCENES_DIR     (TAP output)
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from sotest import (Daemon, check, finish, free_port, http_get as get,  # noqa: E402
                    load_config, scene, wait_for, wait_http)

SECRET = "Pa55w0rd-x9"

FAMILIES = [
    "streetorder_frames_decoded_total", "streetorder_frames_analysed_total",
    "streetorder_frames_dropped_total", "streetorder_decode_errors_total",
    "streetorder_reconnects_total", "streetorder_fps_decoded", "streetorder_fps_analysed",
    "streetorder_camera_health", "streetorder_episodes_open",
    "streetorder_episodes_opened_total", "streetorder_episodes_cleared_total",
    "streetorder_analysis_last_seconds", "streetorder_analysis_seconds",
    "streetorder_events_total", "streetorder_event_latency_seconds",
    "streetorder_delivery_outbox_depth",
    "streetorder_delivery_oldest_unacked_age_seconds", "streetorder_delivery_acks_total",
    "streetorder_delivery_resends_total",
]


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, labels = head, {}
        if "{" in head:
            name, rest = head.split("{", 1)
            for part in rest.rstrip("}").split(","):
                k, v = part.split("=", 1)
                labels[k] = v.strip('"')
        out[(name, frozenset(labels.items()))] = float(value)
    return out


def cam_value(samples, name, camera, **extra):
    return samples.get((name, frozenset(dict(camera=camera, **extra).items())))


def promtool(text):
    exe = shutil.which("promtool")
    if not exe:
        return False, "promtool not installed (Debian package prometheus)"
    p = subprocess.run([exe, "check", "metrics"], input=text.encode(), capture_output=True)
    return p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace").strip()


def main():
    binary, scenes = sys.argv[1], sys.argv[2]
    d = scene(scenes, "demo")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        dead_port = free_port()     # nothing listens there: the RTSP camera stays blind
        cfg = load_config(os.path.join(d, "demo.yaml"))
        cam = cfg["cameras"][0]
        cam["privacy_masks"] = [[[0, 0], [0.25, 0], [0.25, 0.25], [0, 0.25]]]
        dead = {"id": "gate", "url": f"rtsp://operator:{SECRET}@127.0.0.1:{dead_port}/ch1",
                "zones": [dict(cam["zones"][0], id="gate-bay")]}
        cfg["cameras"].append(dead)
        cfg["detector"] = {"id": "http-test", "state_dir": os.path.join(tmp, "state")}
        cfg["http"] = {"listen": f"127.0.0.1:{port}"}
        base = f"http://127.0.0.1:{port}"
        daemon = Daemon(binary, cfg, tmp, config_name="http.yaml", events=None)
        try:
            pages = []
            st = wait_for(lambda: get(base + "/healthz")[0], 10)
            status, body, _ = get(base + "/healthz")
            check(st == 200 and status == 200 and body.strip() == b"ok",
                  f"/healthz answers 200 ok while running (got {status} {body!r})")
            pages.append(body)

            # 503 for a camera without any frame; the demo one gets its first frame soon.
            status, body, _ = get(base + "/cameras/gate/snapshot.jpg")
            check(status == 503, f"snapshot of a camera without a frame is 503 (got {status})")
            pages.append(body)
            first = wait_http(base + "/cameras/demo/snapshot.jpg", 10)
            check(first, "the demo camera's snapshot becomes available (200)")

            status, m1, headers = get(base + "/metrics")
            ctype = headers.get("Content-Type", "") if headers else ""
            check(status == 200 and "version=0.0.4" in ctype,
                  f"/metrics is 200 in text format 0.0.4 (got {status}, {ctype})")
            ok, out = promtool(m1.decode())
            check(ok, "promtool check metrics accepts the page" + ("" if ok else ": " + out))
            text1 = m1.decode()
            missing = [f for f in FAMILIES if f"# TYPE {f} " not in text1]
            check(not missing, f"every documented family is present (missing {missing})")
            s1 = parse_metrics(text1)
            time.sleep(2.5)
            status, m2, _ = get(base + "/metrics")
            s2 = parse_metrics(m2.decode())
            pages += [m1, m2]
            for name in ("streetorder_frames_decoded_total", "streetorder_frames_analysed_total"):
                a, b = cam_value(s1, name, "demo"), cam_value(s2, name, "demo")
                check(a is not None and b is not None and b > a,
                      f"{name}{{camera=demo}} increases between scrapes ({a} -> {b})")
            fps = cam_value(s2, "streetorder_fps_analysed", "demo")
            # demo.yaml sets no analysis fps: the rate its zones need, as `check` prints it (2 fps
            # for its 15-20 s dwells); the clip is 10 fps, paced in real time
            summary = subprocess.run([binary, "check", "-c", daemon.config], capture_output=True,
                                     text=True).stdout
            m = re.search(r"camera demo:.*?analysis ([0-9.]+) fps \(from the zones\)", summary,
                          re.S)
            rate = float(m.group(1)) if m else None
            check(rate is not None and fps is not None and 0.6 * rate <= fps <= 1.4 * rate,
                  f"analysed fps is about the rate the zones need, {rate} (got {fps})")
            check(cam_value(s2, "streetorder_camera_health", "demo", health="live") == 1 and
                  cam_value(s2, "streetorder_camera_health", "demo", health="blind") == 0,
                  "demo camera health is live (one-hot)")
            check(cam_value(s2, "streetorder_camera_health", "gate", health="blind") == 1 and
                  cam_value(s2, "streetorder_frames_decoded_total", "gate") == 0,
                  "the unreachable camera is blind with no frames")
            cnt = cam_value(s2, "streetorder_analysis_seconds_count", "demo")
            check(cnt is not None and cnt == cam_value(s2, "streetorder_analysis_seconds_bucket",
                                                       "demo", le="+Inf") and
                  cnt >= 2 * (rate or 5),
                  f"analysis latency histogram counts analysed frames (count {cnt}, 2 s of them "
                  f"at least)")

            status, jpg, headers = get(base + "/cameras/demo/snapshot.jpg")
            ctype = headers.get("Content-Type", "") if headers else ""
            img = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR) if jpg else None
            check(status == 200 and ctype == "image/jpeg" and jpg[:2] == b"\xff\xd8",
                  f"snapshot is 200 image/jpeg (got {status} {ctype})")
            check(img is not None and img.shape == (360, 640, 3),
                  f"snapshot decodes at the analysis size 640x360 "
                  f"(got {None if img is None else img.shape})")
            if img is not None:
                masked = img[4:80, 4:150]   # inside the privacy mask (0.25 x 0.25 of the frame)
                check(int(masked.max()) <= 40,
                      f"privacy mask is black on the snapshot (max {int(masked.max())})")
                zone_px = img[int(0.719 * 360) + 1, int(0.48 * 640)]  # bay-1's top edge, amber
                check(int(zone_px[2]) > 150 and int(zone_px[1]) > 120 and int(zone_px[0]) < 120,
                      f"bay-1's outline is drawn (pixel BGR {list(map(int, zone_px))})")
            else:
                check(False, "privacy mask is black on the snapshot (no image)")
                check(False, "bay-1's outline is drawn (no image)")

            status, body, _ = get(base + "/cameras/nope/snapshot.jpg")
            check(status == 404, f"unknown camera is 404 (got {status})")
            pages.append(body)
            status, body, _ = get(base + "/nothing-here")
            check(status == 404, f"unknown path is 404 (got {status})")
            status, body, _ = get(base + "/metrics", method="POST")
            check(status == 405, f"POST is 405 (got {status})")
            status, body, _ = get(base + "/")
            pages.append(body)
            check(status == 200 and b'fetch("/cameras.json"' in body,
                  f"/ is the camera grid (got {status})")
            status, body, _ = get(base + "/cameras.json")
            pages.append(body)
            grid = json.loads(body) if status == 200 else {}
            health = {c["id"]: c["health"] for c in grid.get("cameras", [])}
            check(health == {"demo": "live", "gate": "blind"},
                  f"/cameras.json lists the cameras and their health ({health})")
            for cam_id in ("demo", "gate"):
                status, body, _ = get(base + f"/cameras/{cam_id}/status.json")
                pages.append(body)
                check(status == 200, f"/cameras/{cam_id}/status.json answers (got {status})")
            leaked = [p[:80] for p in pages if SECRET.encode() in p or b"operator:" in p]
            check(not leaked, f"no page shows camera credentials ({leaked})")

            took = daemon.stop(signal.SIGTERM, timeout=5)
            rc = daemon.proc.returncode if took is not None else None
            took_s = "never" if took is None else f"{took:.2f} s"
            check(rc == 0 and took <= 2.0,
                  f"SIGTERM stops the daemon within 2 s (rc {rc}, {took_s})")
            check(get(base + "/healthz")[0] is None, "the port is closed after exit")
            text = daemon.text()
            check(SECRET not in text, "no log line shows camera credentials")
        finally:
            daemon.kill()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
