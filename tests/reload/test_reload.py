#!/usr/bin/python3
"""Hot reload of the configuration (issue 5 item 3) on the real daemon.

Three cameras at start: `demo` and `side` read the generated demo scene paced in real time (no
--fast), `gone` is an RTSP camera nobody serves (blind). Then, with SIGHUP:

 1. a file with a YAML syntax error, then one with a semantic error (dwell_s: -1, and demo's
    bay-1 left out): both rejected, every error in the log as FILE:LINE:COL, /healthz still
    200, nothing changes (demo's bay-1 still opens later: events keep flowing)      -> case a
 2. demo gets a new zone walk-1 (the boxes put on the sidewalk at 25-29 s): it fires later, on
    the running camera; the blind camera gets one too, applied without waiting for a frame
                                                                                    -> case d
 3. once bay-1 is open on demo and on side: demo's bay-1 is removed, `gone` is removed and a
    camera `extra` is added. demo's bay-1 episode is cleared once, reason zone_removed (b);
    side is untouched: the same episode goes on with updates, no second `opened`, no restart
    and no blind in its log (c); `extra` reports health on the PUB feed and in /metrics,
    `gone` disappears from both (e).
 4. demo's analysis fps changes: demo is restarted (live again, nothing cleared), side untouched.
Reload time (SIGHUP sent -> "reload applied" in the log) is printed for each reload.

Usage: test_reload.py BIN SCENES_DIR     (TAP output)
"""
import json
import os
import re
import signal
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import sotest  # noqa: E402
from sotest import (Feed, check, finish, free_port, http_get, load_config, note,  # noqa: E402
                    read_jsonl as events, scene, wait_for, wait_http, write_config as write)


def get(url):
    return http_get(url)[:2]


def find(evs, camera, zone=None, state=None):
    return [e for e in evs if e["camera_id"] == camera and (zone is None or e["zone_id"] == zone)
            and (state is None or e["state"] == state)]


class Daemon(sotest.Daemon):
    """streetorder run -c PATH --events TMP/events.jsonl --quiet, log in TMP/daemon.log."""

    def reload(self, marker):
        """SIGHUP; wait for one more `marker` line in the log. Returns (seconds, new text)."""
        before = self.text()
        n = before.count(marker)
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGHUP)
        done = wait_for(lambda: self.text().count(marker) > n, 20, step=0.005)
        took = time.monotonic() - t0
        return (took if done else None), self.text()[len(before):]


def main():
    binary, scenes = sys.argv[1], sys.argv[2]
    d = scene(scenes)
    base = load_config(os.path.join(d, "demo.yaml"))
    zones = {z["id"]: z for z in base["cameras"][0]["zones"]}
    clip = base["cameras"][0]["url"]
    with tempfile.TemporaryDirectory() as tmp:
        port, pub_port, dead_port = free_port(), free_port(), free_port()
        bay = dict(zones["bay-1"], report_interval_s=2)
        cfg = {
            "detector": {"id": "reload-test", "state_dir": os.path.join(tmp, "state")},
            "outputs": {"publish": f"tcp://127.0.0.1:{pub_port}"},
            "http": {"listen": f"127.0.0.1:{port}"},
            "cameras": [
                {"id": "demo", "url": clip, "zones": [bay, zones["front-1"]]},
                {"id": "side", "url": clip, "zones": [dict(bay, id="side-bay")]},
                {"id": "gone", "url": f"rtsp://127.0.0.1:{dead_port}/ch1",
                 "zones": [dict(bay, id="gate")]},
            ],
        }
        path = os.path.join(tmp, "reload.yaml")
        write(path, cfg)
        feed = Feed(f"tcp://127.0.0.1:{pub_port}", settle=0)
        daemon = Daemon(binary, path, tmp)
        events_path = daemon.events_path
        url = f"http://127.0.0.1:{port}"
        times = []
        try:
            check(wait_http(url + "/healthz", 10), "daemon up (/healthz)")
            check(wait_for(lambda: "[demo] analysing" in daemon.text() and
                           "[side] analysing" in daemon.text(), 10),
                  "demo and side analyse their first frames")

            # (a) a syntax error: rejected, the error with file:line:col, still healthy.
            with open(path, "w") as f:
                f.write(yaml.safe_dump(cfg, sort_keys=False) + "  - id: [unclosed\n    url: x\n")
            took, out = daemon.reload("reload rejected")
            check(took is not None, "(a) syntax error: reload rejected")
            check(re.search(r"^" + re.escape(path) + r":\d+:\d+: ", out, re.M),
                  "(a) the syntax error is logged as FILE:LINE:COL")
            check("reload applied" not in out, "(a) nothing applied")
            check(get(url + "/healthz")[0] == 200, "(a) /healthz still 200 after the rejection")

            # (a) semantic errors, in a file that also leaves demo's bay-1 out: nothing changes.
            bad = json.loads(json.dumps(cfg))
            bad["cameras"][0]["zones"] = [dict(zones["front-1"], dwell_s=-1)]
            bad["cameras"][1]["zones"][0]["polygon"] = [[0.1, 0.1], [0.2, 0.2]]
            write(path, bad)
            took, out = daemon.reload("reload rejected")
            check(took is not None and "reload rejected: 2 errors; keeping the running config"
                  in out, "(a) semantic errors: reload rejected, 2 errors counted")
            check(re.search(r"^" + re.escape(path) +
                            r":\d+:\d+: cameras\[0\]\.zones\[0\]\.dwell_s: ", out, re.M),
                  "(a) dwell_s: -1 is logged as FILE:LINE:COL: cameras[0].zones[0].dwell_s")
            check(re.search(r"^" + re.escape(path) +
                            r":\d+:\d+: cameras\[1\]\.zones\[0\]\.polygon", out, re.M),
                  "(a) the 2-point polygon is logged as FILE:LINE:COL: ...polygon (every error)")
            check(get(url + "/healthz")[0] == 200, "(a) /healthz still 200")

            # (d) a zone added to the running demo camera.
            cfg["cameras"][0]["zones"].append(zones["walk-1"])
            cfg["cameras"][2]["zones"].append(dict(zones["walk-1"], id="gate-walk"))
            write(path, cfg)
            t_d = time.monotonic()
            took, out = daemon.reload("reload applied")
            times.append(took)
            check(took is not None and re.search(r"\[?demo\]?.*reload: zones changed.*added "
                                                 r"\[walk-1\]", out),
                  "(d) walk-1 added: 'zones changed' for demo, reload applied")
            check("analysing" not in out and "restarting" not in out,
                  "(d) the camera was not restarted for a new zone")
            check(took is not None and took < 1.0 and re.search(
                r"\[gone\] reload: zones changed.*added \[gate-walk\]", out),
                  "(d) the blind camera gets its new zone at once too (no frame needed)")

            # Wait for bay-1 to open on demo and on side (car at rest 12 s, dwell 20 s).
            opened = wait_for(lambda: find(events(events_path), "demo", "bay-1", "opened") and
                              find(events(events_path), "side", "side-bay", "opened"), 60, 0.2)
            check(opened, "(a) events keep flowing after the rejections: bay-1 opened on demo "
                          "(the zone the rejected file left out) and on side")
            time.sleep(1.0)    # an update or two of side before the reload

            # (b) + (c) + (e): remove demo's bay-1 and camera gone, add camera extra.
            cfg["cameras"][0]["zones"] = [z for z in cfg["cameras"][0]["zones"]
                                          if z["id"] != "bay-1"]
            cfg["cameras"] = [cfg["cameras"][0], cfg["cameras"][1],
                              {"id": "extra", "url": clip, "zones": [zones["front-1"]]}]
            write(path, cfg)
            n_before = len(events(events_path))
            t_b = time.monotonic()
            took, out = daemon.reload("reload applied")
            times.append(took)
            check(took is not None, "(b/c/e) reload applied")
            after_log_mark = len(daemon.text())
            check("gone" in out and "camera removed" in out and "camera added" in out,
                  "(e) the log says gone removed and extra added")

            # (e) extra's health on the feed and in /metrics; gone gone.
            h = wait_for(lambda: feed.health("extra", t_b), 6)
            check(h, f"(e) health.extra appears on the PUB feed ({h[-1]['health'] if h else None})")
            m = wait_for(lambda: (lambda s: s if 'camera="extra"' in s else None)(
                get(url + "/metrics")[1].decode()), 6)
            check(m and 'streetorder_camera_health{camera="extra",health="live"} 1' in m,
                  "(e) /metrics shows extra live")
            check(m and 'camera="gone"' not in m, "(e) /metrics no longer lists gone")
            check(m and 'camera="side"' in m and 'camera="demo"' in m,
                  "(e) /metrics still lists demo and side")

            # Let side publish updates and walk-1 fire (boxes at rest 25-29 s, dwell 15 s).
            wait_for(lambda: find(events(events_path), "demo", "walk-1", "opened"), 30, 0.2)
            time.sleep(5.0)
            check(not feed.health("gone", time.monotonic() - 4.0),
                  "(e) no health.gone on the feed any more (heartbeat every 2 s)")
            # Stream settings changed (analysis fps): demo is restarted, side still untouched.
            cfg["cameras"][0]["analysis"] = {"fps": 4}
            write(path, cfg)
            n_restart = len(events(events_path))
            t_r = time.monotonic()
            took, out = daemon.reload("reload applied")
            times.append(took)
            check(took is not None and "stream settings changed: restarting the camera" in out
                  and "1 restarted" in out, "(restart) demo's new analysis fps restarts it")
            check(wait_for(lambda: [h for h in feed.health("demo", t_r) if h["health"] == "live"],
                           6), "(restart) demo reports live again on the feed")
            check(wait_for(lambda: 'streetorder_camera_health{camera="demo",health="live"} 1'
                           in get(url + "/metrics")[1].decode(), 6),
                  "(restart) /metrics shows demo live after its restart")
            time.sleep(2.0)
            check(not [e for e in events(events_path)[n_restart:] if e["state"] == "cleared"],
                  "(restart) a restart clears nothing (walk-1's episode is not cleared)")
            check(get(url + "/healthz")[0] == 200, "/healthz 200 after the reloads")
            t_end = time.monotonic()
            daemon.stop(signal.SIGTERM, timeout=10)
            rc = daemon.proc.returncode
            check(rc == 0, f"daemon stops on SIGTERM with status 0 (rc {rc})")

            evs = events(events_path)
            later = evs[n_before:]
            # (b)
            bo = find(evs, "demo", "bay-1", "opened")
            bc = find(evs, "demo", "bay-1", "cleared")
            check(len(bo) == 1, f"(b) demo bay-1 opened once ({len(bo)})")
            check(len(bc) == 1 and bc[0]["reason"] == "zone_removed" and bo and
                  bc[0]["episode_id"] == bo[0]["episode_id"],
                  f"(b) demo bay-1 cleared once, reason zone_removed, same episode "
                  f"({[(e['reason'], e['episode_id'][:8]) for e in bc]})")
            check(bc and any(ev["role"] == "after" for ev in bc[0]["evidence"]) and
                  bc[0]["media_end_s"] is not None,
                  "(b) the zone_removed clear carries an after image and media_end_s")
            check(not [e for e in later if e["zone_id"] == "bay-1" and e["state"] != "cleared"],
                  "(b) nothing more from demo's bay-1 after its removal")
            # (c)
            so = find(evs, "side", "side-bay", "opened")
            su = [e for e in find(later, "side", "side-bay", "update")]
            check(len(so) == 1, f"(c) side opened once, no second opened ({len(so)})")
            check(so and len(su) >= 2 and all(e["episode_id"] == so[0]["episode_id"] for e in su),
                  f"(c) side's updates go on after the reload with the same episode_id "
                  f"({len(su)} updates)")
            check(not find(evs, "side", state="cleared"), "(c) side's episode not cleared")
            text = daemon.text()
            side_after = [ln for ln in text[after_log_mark:].splitlines()
                          if "side" in ln and ("blind" in ln or "analysing" in ln or
                                               "restart" in ln or "reload" in ln)]
            check(not side_after and "reload: camera removed" not in
                  "".join(ln for ln in text.splitlines() if "side" in ln),
                  f"(c) no restart, blind or reload line for side ({side_after[:2]})")
            check(not [h for h in feed.health("side", t_b) if h["health"] != "live"],
                  "(c) side's health stays live on the feed")
            # (d)
            wo = find(evs, "demo", "walk-1", "opened")
            check(len(wo) == 1, f"(d) the added zone walk-1 fired on demo ({len(wo)} opened)")
            # (e) extra: started like at startup (its health live on the feed)
            check([h for h in feed.health("extra", t_b) if h["health"] == "live"],
                  "(e) extra reports live on the feed")
            # (a) the rejected reloads changed nothing: front-1 and bay-1 stayed demo's zones
            check(not [e for e in evs if e["camera_id"] == "gone"], "gone never fired")
            note(f"run took {t_end - t_d:.1f} s after the first applied reload")
            for i, t in enumerate(times):
                note(f"reload time {i + 1}: SIGHUP -> 'reload applied' seen "
                     f"{t * 1000:.0f} ms" if t is not None else f"reload {i + 1}: not applied")
            for ln in text.splitlines():
                if "reload applied" in ln or "reload rejected" in ln:
                    note(ln.strip())
        finally:
            daemon.kill()
            feed.close()
            if sotest.failures():
                daemon.dump_log(80)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
