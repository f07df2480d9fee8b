#!/usr/bin/python3
"""End-to-end checks of `evidence_url` (issue 6 item 3): high-resolution evidence grabbed from a
camera's main stream when an episode opens or clears.

Two encodings of the same scene: the generated demo (640x360) is the analysis `url`, a
1280x720 re-encoding of the same frames is the `evidence_url`.

1. --fast, evidence_url = the 1280x720 file: opened/cleared events carry confirm/after images
   of 1280x720 with source evidence_url; the JPEG files decode at that size and show the frame
   at the event's media time (closest to ffmpeg's frame at that time, far from one 20 s away);
   the zone is drawn on them; rest and update images stay 640x360 (source analysis); every
   record matches the schema; the scorer's result and the episodes are the same as without
   evidence_url.
2. Paced in real time, two cameras whose evidence_url cannot give a picture: a closed port
   (connection refused at once) and a server that accepts and never answers (the grab's 5 s
   deadline): events still come out with analysis images and a warning, no later than the
   deadline; credentials never appear in the logs; SIGTERM while a grab hangs stops the daemon
   within 2 s, and the event being grabbed is written.
3. (argument `rtsp`) the main stream served over RTSP by gst-rtsp-server with Basic auth:
   the confirm image is 1280x720 from evidence_url and is the served picture; no password in
   the logs; SIGTERM stops within 2 s. Exit 77 without gst-rtsp-server (unless CI is set).

Usage: test_evidence.py BIN SCENES_DIR [rtsp]     (TAP output)
"""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import cv2
import jsonschema
import numpy as np
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "rtsp"))
from test_outputs import scene as demo_scene  # noqa: E402
# TAP lines, a hung NVR (accepts TCP, never answers), and for the rtsp case the real server
from test_rtsp import (Daemon, RtspServer, SilentServer, camera, check, check_stop,  # noqa: E402
                       clips, free_port, results)

HI_W, HI_H = 1280, 720
AMBER = np.array([0, 215, 255])     # zone colour (BGR), detector/events/event.c


def scene(scenes):
    """The demo scene and its 1280x720 twin (same frames, scaled and encoded again)."""
    d = demo_scene(scenes)
    hi = os.path.join(d, f"demo-{HI_H}p.mp4")
    if not os.path.exists(hi):
        tmp = hi + f".{os.getpid()}.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", os.path.join(d, "demo.mp4"), "-vf",
                        f"scale={HI_W}:{HI_H}", "-c:v", "libx264", "-preset", "veryfast",
                        "-crf", "24", "-g", "50", "-pix_fmt", "yuv420p", tmp], check=True)
        os.replace(tmp, hi)
    return d, hi


def frame_at(path, t):
    """ffmpeg's frame of a 1280x720 file at media time t (the first with pts >= t)."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vf",
                          f"select=gte(t\\,{max(t - 0.001, 0):.3f})", "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
                         capture_output=True, check=True).stdout
    if len(raw) < HI_W * HI_H * 3:
        return None
    return np.frombuffer(raw, np.uint8)[:HI_W * HI_H * 3].reshape(HI_H, HI_W, 3)


def mad(a, b):
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) if b is not None \
        else float("inf")


def zone_drawn(img, polygon):
    """Share of points along the zone's outline (scaled to the image) that are amber."""
    h, w = img.shape[:2]
    pts = [(x * (w - 1), y * (h - 1)) for x, y in polygon]
    hits = total = 0
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
        for s in np.linspace(0.05, 0.95, 20):
            x, y = int(round(x0 + (x1 - x0) * s)), int(round(y0 + (y1 - y0) * s))
            patch = img[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3].reshape(-1, 3).astype(int)
            hits += np.abs(patch - AMBER).sum(axis=1).min() < 90
            total += 1
    return hits / total


def schema_errors(records, schema):
    bad = []
    for rec in records:
        try:
            jsonschema.validate(rec, schema)
        except jsonschema.ValidationError as e:
            bad.append(str(e)[:200])
    return bad


def run_fast(binary, cfg, tmp, name):
    path = os.path.join(tmp, name + ".yaml")
    events = os.path.join(tmp, name + ".jsonl")
    cfg["detector"] = {"id": "e2e", "state_dir": os.path.join(tmp, name)}
    yaml.safe_dump(cfg, open(path, "w"), allow_unicode=True)
    r = subprocess.run([binary, "run", "-c", path, "--fast", "--quiet", "--events", events],
                       capture_output=True, text=True)
    lines = [json.loads(l) for l in open(events)] if os.path.exists(events) else []
    return r, lines, events, os.path.join(tmp, name, "evidence")


def case_fast(binary, d, hi, schema, tmp):
    base = yaml.safe_load(open(os.path.join(d, "demo.yaml")))
    base["cameras"][0]["url"] = os.path.join(d, "demo.mp4")
    zones = {z["id"]: z for z in base["cameras"][0]["zones"]}
    cfg = json.loads(json.dumps(base))
    cfg["cameras"][0]["evidence_url"] = hi
    r, lines, events, evdir = run_fast(binary, cfg, tmp, "hires")
    check(r.returncode == 0 and lines, f"--fast run with evidence_url exits 0 "
          f"({r.returncode}, {len(lines)} events)")
    if r.returncode != 0:
        print("# " + r.stderr[-2000:].replace("\n", "\n# "))
    bad = schema_errors(lines, schema)
    check(lines and not bad, f"every record matches config/event.schema.json {bad[:1]}")

    hi_role = {"opened": "confirm", "cleared": "after"}
    big, small = [], []
    for rec in lines:
        for ev in rec["evidence"]:
            (big if hi_role.get(rec["state"]) == ev["role"] else small).append((rec, ev))
    check(big and all((e.get("width"), e.get("height"), e.get("source")) ==
                      (HI_W, HI_H, "evidence_url") for _, e in big),
          f"{len(big)} opened/cleared confirm/after images are {HI_W}x{HI_H} from evidence_url")
    check(small and all((e.get("width"), e.get("height"), e.get("source")) ==
                        (640, 360, "analysis") for _, e in small),
          f"{len(small)} rest/update images stay 640x360 from the analysis")
    ok = True
    for _, e in big + small:
        data = open(os.path.join(evdir, e["file"]), "rb").read()
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        ok &= img is not None and (img.shape[1], img.shape[0]) == (e["width"], e["height"])
        ok &= len(data) == e["size"] and hashlib.sha256(data).hexdigest() == e["sha256"]
    check(ok, "evidence files decode at the recorded size, with the recorded size and sha256")

    timing, drawn = [], []
    for rec, e in big:
        img = cv2.imread(os.path.join(evdir, e["file"]))
        t = e["media_s"]
        here = mad(img, frame_at(hi, t))
        near = min(mad(img, frame_at(hi, t + dt)) for dt in (-0.2, 0.2))
        far = min(mad(img, frame_at(hi, t + dt)) for dt in (-20, 20))
        timing.append((rec["zone_id"], rec["state"], t, round(here, 2), round(near, 2),
                       round(far, 2)))
        drawn.append(zone_drawn(img, zones[rec["zone_id"]]["polygon"]))
    print(f"# (zone, state, media_s, MAD at t, at t+-0.2 s, at t+-20 s): {timing}")
    check(timing and all(h < n and h < 0.6 * f for _, _, _, h, n, f in timing),
          "each high-resolution image is the main stream's frame at the event's media time")
    check(drawn and min(drawn) > 0.8,
          f"the zone outline is drawn on them (amber share {[round(x, 2) for x in drawn]})")
    opened = [rec for rec in lines if rec["state"] == "opened"]
    check(opened and all(abs(next(e["media_s"] for e in rec["evidence"] if e["role"] ==
                                  "confirm") - rec["media_confirmed_s"]) < 0.01
                         for rec in opened),
          "opened: the confirm image's media_s is media_confirmed_s")

    ev = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "eval"), "--strict",
                         "--events", events, os.path.join(d, "demo.truth.yaml")],
                        capture_output=True, text=True)
    check(ev.returncode == 0, "scorer: the demo truth is met (scripts/eval --strict)")
    r0, plain, _, _ = run_fast(binary, json.loads(json.dumps(base)), tmp, "plain")

    def key(rec):
        return (rec["zone_id"], rec["state"], rec["media_start_s"], rec["media_end_s"],
                rec["dwell_s"], rec["objects"])
    check(r0.returncode == 0 and [key(x) for x in plain] == [key(x) for x in lines],
          f"the same {len(plain)} events (order, times, objects) as without evidence_url")


def case_unreachable(binary, d, schema, tmp):
    closed = free_port()
    silent = SilentServer()
    cfg = yaml.safe_load(open(os.path.join(d, "demo.yaml")))
    cam = cfg["cameras"][0]
    cam["url"] = os.path.join(d, "demo.mp4")
    for z in cam["zones"]:
        z["dwell_s"] = 2    # episodes soon: bay-1 at ~14 s, walk-1 at ~28 s of the clip
    refused = dict(cam, id="refused",
                   evidence_url=f"rtsp://admin:s3cr3tpw@127.0.0.1:{closed}/main")
    hangs = dict(cam, id="hangs",
                 evidence_url=f"rtsp://admin:s3cr3tpw@127.0.0.1:{silent.port}/main")
    d = Daemon(binary, tmp, [refused, hangs])
    seen = {}       # event_id -> (arrival time, record)

    def poll():
        for rec in d.records():
            seen.setdefault(rec["event_id"], (time.monotonic(), rec))
        return True

    def first(camera):
        for t, rec in sorted(seen.values(), key=lambda x: x[0]):
            if rec["camera_id"] == camera and rec["state"] == "opened":
                return t, rec
        return None

    stop_s = None
    try:
        # the second grab of 'hangs' has started: stop in the middle of it
        if d.wait_for(lambda: poll() and silent.accepted >= 2 and first("hangs") and
                      first("refused"), 60, step=0.05):
            time.sleep(0.5)
            stop_s = d.stop(signal.SIGTERM)
    finally:
        d.finish()
        silent.close()
    poll()
    text = d.stderr() + d.stdout()
    check(stop_s is not None and stop_s < 2.0 and d.proc.returncode == 0,
          f"SIGTERM during a hanging grab: exit {d.proc.returncode} in "
          f"{'%.2f' % stop_s if stop_s is not None else '(never sent)'} s (< 2 s)")
    recs = [rec for _, rec in seen.values()]
    opened = [rec for rec in recs if rec["state"] == "opened"]
    ok = bool(opened)
    for rec in opened:
        conf = [e for e in rec["evidence"] if e["role"] == "confirm"]
        ok &= len(conf) == 1 and (conf[0]["width"], conf[0]["source"]) == (640, "analysis")
    check(ok and {r["camera_id"] for r in opened} == {"refused", "hangs"},
          f"{len(opened)} opened events of both cameras went out with the analysis image")
    n_hangs = sum(1 for r in opened if r["camera_id"] == "hangs")
    check(n_hangs >= 2 and silent.accepted >= 2,
          f"the event whose grab was aborted by SIGTERM was written ({n_hangs} opened of "
          f"'hangs', {silent.accepted} connections)")
    check(recs and not schema_errors(recs, schema), f"{len(recs)} records match the schema")
    a, b = first("refused"), first("hangs")
    lag = b[0] - a[0] if a and b else None
    check(lag is not None and 3.5 < lag < 7.0 and b[1]["zone_id"] == a[1]["zone_id"],
          f"a hanging main stream holds the event back by the grab deadline, no longer "
          f"(lag {lag if lag is None else round(lag, 2)} s, deadline 5 s)")
    warn = [l for l in text.splitlines() if "evidence_url" in l and "warn" in l]
    check(any("[refused]" in l for l in warn) and any("[hangs]" in l and "timed out" in l
                                                     for l in warn),
          f"a warning per failed grab ({len(warn)}), the hanging one says timed out")
    check("s3cr3tpw" not in text and "***@127.0.0.1" in text,
          "credentials are never logged (URL redacted)")
    if not (warn and "s3cr3tpw" not in text):
        print("# " + text[-3000:].replace("\n", "\n# "))


def case_rtsp(binary, scenes, schema, tmp):
    """The main stream served over RTSP (gst-rtsp-server, Basic auth) at 1280x720."""
    c = clips(scenes)
    hi = os.path.join(scenes, "rtsp", f"A-{HI_H}p.mp4")
    if not os.path.exists(hi):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", c["A"], "-vf",
                        f"scale={HI_W}:{HI_H}", "-an", "-c:v", "libx264", "-preset", "ultrafast",
                        "-g", "10", "-pix_fmt", "yuv420p", hi + ".tmp.mp4"], check=True)
        os.replace(hi + ".tmp.mp4", hi)
    port = free_port()
    srv = RtspServer(port, {"/main": hi}, user="admin", password="s3cr3tpw")
    cam = camera("cam", c["A"])     # analysis: the same clip as a file, paced in real time
    cam["evidence_url"] = f"rtsp://admin:s3cr3tpw@127.0.0.1:{port}/main"
    d = Daemon(binary, tmp, [cam])
    try:
        d.wait_for(lambda: any(r["state"] == "opened" for r in d.records()), 45)
        check_stop(d, signal.SIGTERM, "after an RTSP grab")
    finally:
        d.finish()
        srv.kill()
    recs = d.records()
    opened = [r for r in recs if r["state"] == "opened"]
    conf = [e for r in opened for e in r["evidence"] if e["role"] == "confirm"]
    check(conf and all((e["width"], e["height"], e["source"]) == (HI_W, HI_H, "evidence_url")
                       for e in conf),
          f"opened over RTSP: confirm image {HI_W}x{HI_H} from evidence_url "
          f"({[(e['width'], e['source']) for e in conf]})")
    check(recs and not schema_errors(recs, schema), f"{len(recs)} records match the schema")
    if conf:
        img = cv2.imread(os.path.join(tmp, "state", "evidence", conf[0]["file"]))
        # Every client of the test server starts at the clip's first picture (a keyframe).
        here, far = mad(img, frame_at(hi, 0)), mad(img, frame_at(hi, 20))
        check(img is not None and img.shape[:2] == (HI_H, HI_W) and here < 0.6 * far,
              f"the JPEG is the main stream's picture (MAD {here:.2f} vs {far:.2f} 20 s on)")
    err = d.stderr()
    took = re.findall(r"from the evidence_url: \d+x\d+ at [\d.]+ s in (\d+) ms", err)
    if took:
        print(f"# figure: RTSP grab = {int(took[0]) / 1000:.2f} s", flush=True)
    check("s3cr3tpw" not in err + d.stdout() and "***@127.0.0.1" in err,
          "the main stream's password is never logged")


def main():
    binary, scenes = sys.argv[1], sys.argv[2]
    schema = json.load(open(os.path.join(ROOT, "config", "event.schema.json")))
    if sys.argv[3:] == ["rtsp"]:
        try:
            import gi
            gi.require_version("GstRtspServer", "1.0")
            from gi.repository import GstRtspServer  # noqa: F401
        except (ImportError, ValueError) as e:
            print(f"# no gst-rtsp-server ({e}): run scripts/bootstrap")
            return 1 if os.environ.get("CI") else 77
        with tempfile.TemporaryDirectory() as tmp:
            case_rtsp(binary, scenes, schema, tmp)
        print(f"1..{len(results)}")
        return 0 if results and all(ok for ok, _ in results) else 1
    d, hi = scene(scenes)
    with tempfile.TemporaryDirectory() as tmp:
        case_fast(binary, d, hi, schema, tmp)
        case_unreachable(binary, d, schema, tmp)
    print(f"1..{len(results)}")
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
