#!/usr/bin/python3
"""RTSP against a real server, and many cameras in one process (issue 5, items 1 and 2).

Every case drives the real daemon (`streetorder run`) against a real RTSP server
(gst-rtsp-server, tests/rtsp/rtsp_server.py, a separate process on 127.0.0.1 that the tests kill
and restart) and asserts what an operator or the platform sees: health records on the PUB live
feed (a real ZeroMQ SUB peer), records in the --events file, log lines, exit timing.

  outage     server SIGKILLed mid-stream with an episode open, back 12 s later (longer than
             clear_s) serving the same street with the car still parked: health live -> blind ->
             live, one `opened`, no `cleared`, and `update`s of the same episode after the outage.
  silent     a server that accepts TCP and never answers; then a real server frozen (SIGSTOP)
             mid-stream: blind within the I/O timeout (10 s), SIGTERM while blocked exits < 2 s.
  auth       wrong password and unknown path: the 401/404 reason in the log and in health, retries
             with growing spacing; no password ever in stderr, stdout, events or PUB messages.
  resize     an MPEG-TS whose H.264 switches 640x360 -> 320x240 served over RTSP: frames keep
             flowing (health stays live, frames analysed at the new size), analysis restarted.
  cameras    4 cameras (2 RTSP, 1 file paced in real time, 1 dead server that never answers):
             the healthy ones open their episodes on time; SIGINT stops everything within 2 s.

Usage: test_rtsp.py BIN SCENES_DIR CASE     (TAP output; "1..0 # SKIP" when the RTSP server
packages are missing and CI is not set)
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import sotest  # noqa: E402
# check, results, free_port and SilentServer are imported from here by test_evidence.py too
from sotest import (PY, Feed, SilentServer, check, diag, free_port,  # noqa: E402,F401
                    results, scene)

IO_TIMEOUT_S = 10.0         # source.c DEFAULT_IO_TIMEOUT_S
STOP_LIMIT_S = 2.0          # ARCHITECTURE "Command line": SIGINT/SIGTERM stop within 2 s
BAY = [[0.3, 0.719], [0.659, 0.719], [0.659, 0.85], [0.3, 0.85]]   # demo scene's bay-1
figures = []


def figure(name, value):
    figures.append((name, value))
    print(f"# figure: {name} = {value:.2f} s", flush=True)


# ---- clips --------------------------------------------------------------------------------

def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def clips(scenes):
    """Short clips cut from the generated demo scene (a red car at rest in bay-1 at 12 s)."""
    demo = os.path.join(scene(scenes, "demo"), "demo.mp4")
    d = os.path.join(scenes, "rtsp")
    os.makedirs(d, exist_ok=True)
    enc = ["-an", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p"]
    out = {
        # From 5 s: the empty street long enough to learn it; the car at rest at ~7 s (clip
        # time), opened at ~15-17 s with dwell 8; still there at the clip's end (45 s).
        "A": (os.path.join(d, "A.mp4"), ["-ss", "5", "-i", demo, "-t", "45", *enc]),
        # From 30 s: the car already parked (a camera that comes back after an outage).
        "B": (os.path.join(d, "B.mp4"), ["-ss", "30", "-i", demo, "-t", "32", *enc]),
        "D1": (os.path.join(d, "d1.ts"), ["-i", demo, "-t", "8", *enc,
                                           "-bsf:v", "h264_mp4toannexb"]),
        "D2": (os.path.join(d, "d2.ts"), ["-ss", "8", "-i", demo, "-t", "30", "-vf",
                                           "scale=320:240", *enc, "-bsf:v", "h264_mp4toannexb"]),
    }
    with sotest.locked(d):    # test_evidence.py cuts them too
        for path, args in out.values():
            if not os.path.exists(path):
                ffmpeg(*args, path + ".tmp.mp4" if path.endswith(".mp4") else path + ".tmp.ts")
                os.rename(path + (".tmp.mp4" if path.endswith(".mp4") else ".tmp.ts"), path)
        paths = {k: v[0] for k, v in out.items()}
        # One MPEG-TS whose H.264 changes resolution after 8 s (SPS change mid-stream).
        paths["D"] = os.path.join(d, "D.ts")
        if not os.path.exists(paths["D"]):
            lst = os.path.join(d, "d.txt")
            with open(lst, "w") as f:
                f.write(f"file '{paths['D1']}'\nfile '{paths['D2']}'\n")
            ffmpeg("-f", "concat", "-safe", "0", "-i", lst, "-c", "copy", paths["D"] + ".tmp.ts")
            os.rename(paths["D"] + ".tmp.ts", paths["D"])
    return paths


# ---- peers --------------------------------------------------------------------------------

class RtspServer:
    """gst-rtsp-server in its own process (so it can be SIGKILLed / SIGSTOPped)."""

    def __init__(self, port, mounts, user=None, password=None):
        cmd = [PY, os.path.join(HERE, "rtsp_server.py"), "--port", str(port)]
        if user:
            cmd += ["--user", user, "--password", password]
        cmd += [f"{m}={c}" for m, c in mounts.items()]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError("RTSP server did not start: " + self.proc.stderr.read())
        self.ready_at = time.monotonic()

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            self.proc.wait()


class Daemon(sotest.Daemon):
    """streetorder run with a config written from `cameras`, -v, events to a file, stdout and
    stderr apart, and a real ZeroMQ SUB peer (sub, a sotest.Feed) on its PUB feed."""

    def __init__(self, binary, tmp, cameras, extra_args=()):
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        cfg = {"detector": {"id": "rtsp-test", "state_dir": os.path.join(tmp, "state")},
               "outputs": {"publish": self.endpoint}, "cameras": cameras}
        # the SUB peer connects before the PUB binds: no slow-joiner loss
        self.sub = Feed(self.endpoint, settle=0.3)
        super().__init__(binary, cfg, tmp, args=("-v", *extra_args), split_logs=True)

    def finish(self):
        self.kill()
        time.sleep(0.2)
        self.sub.close()


def camera(cid, url, dwell=8, **zone):
    z = {"id": "bay-1", "kind": "illegal_parking", "polygon": BAY, "dwell_s": dwell, **zone}
    return {"id": cid, "url": url, "zones": [z]}


def check_stop(d, sig, what):
    took = d.stop(sig)
    figure(f"{what}: stop time", took if took is not None else 99)
    check(took is not None and took < STOP_LIMIT_S and d.proc.returncode == 0,
          f"{sig.name} {what}: exits 0 within {STOP_LIMIT_S:.0f} s "
          f"(took {took if took is None else round(took, 2)} s, rc {d.proc.returncode})")


def log_times(text, pattern):
    """Wall times (s) of the log lines matching pattern."""
    out = []
    for line in text.splitlines():
        m = re.match(r"\d{4}-\d\d-\d\d (\d\d):(\d\d):(\d\d\.\d+) ", line)
        if m and re.search(pattern, line):
            out.append(int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]))
    return out


# ---- cases --------------------------------------------------------------------------------

def case_outage(binary, tmp, c):
    port = free_port()
    srv = RtspServer(port, {"/cam": c["A"]})
    d = Daemon(binary, tmp, [camera("cam", f"rtsp://127.0.0.1:{port}/cam",
                                    report_interval_s=4, clear_s=10)])
    try:
        opened = lambda: [r for r in d.records() if r["state"] == "opened"]  # noqa: E731
        check(d.wait_for(opened, 40), "episode opened on the live RTSP stream before the outage")
        if not opened():
            diag(d.stderr())
            return
        ep = opened()[0]["episode_id"]
        time.sleep(1.0)
        t_kill = time.monotonic()
        srv.kill()
        outage_s = 12.0     # longer than clear_s: an outage must not count as "vehicle gone"
        blind = lambda: [h for h in d.sub.health_changes("cam") if h[1] == "blind"]  # noqa: E731
        d.wait_for(blind, outage_s)
        if blind():
            figure("outage: blind published after server kill", blind()[0][0] - t_kill)
        check(blind() and blind()[0][0] - t_kill < 2.0,
              "health blind on the PUB feed within 2 s of the server dying")
        time.sleep(max(0.0, t_kill + outage_s - time.monotonic()))
        srv = RtspServer(port, {"/cam": c["B"]})     # the same street, car still parked
        t_back = srv.ready_at
        live_again = lambda: [h for h in d.sub.health_changes("cam")  # noqa: E731
                              if h[1] == "live" and h[0] > t_back]
        check(d.wait_for(live_again, 40), "health live again after the server came back")
        if live_again():
            figure("outage: reconnect time (server back -> live)", live_again()[0][0] - t_back)
            figure("outage: camera blind for", live_again()[0][0] - blind()[0][0])
        seq = [h for _, h, _ in d.sub.health_changes("cam")]
        check(seq[:3] == ["live", "blind", "live"],
              f"health sequence on the PUB feed is live, blind, live ({seq})")
        reconn = log_times(d.stderr(), r"\[cam\] opened rtsp://")
        check(len(reconn) >= 2, f"log shows the reconnect ({len(reconn)} opens)")
        time.sleep(14)  # > clear_s after the reconnect: a wrong "gone" would clear by now
        check_stop(d, signal.SIGTERM, "outage: live stream")
        recs = d.records()
        same = [r for r in recs if r["episode_id"] == ep]
        n_open = sum(r["state"] == "opened" for r in recs)
        check(n_open == 1, f"exactly one opened episode across the outage ({n_open})")
        check(not any(r["state"] == "cleared" for r in recs),
              "no cleared: the outage did not end the episode "
              f"({[(r['state'], r.get('reason')) for r in recs if r['state'] == 'cleared']})")
        pub_after = [(t, r) for t, r in d.sub.events("cam")
                     if r["episode_id"] == ep and r["state"] == "update" and t > t_back]
        check(pub_after, f"the same episode goes on: {len(pub_after)} update(s) of {ep} after "
              "the outage on the PUB feed")
        check(all(r["media_start_s"] == same[0]["media_start_s"] for r in same),
              "its media_start_s is unchanged by the outage")
        if n_open != 1 or not pub_after:
            diag(d.stderr())
    finally:
        d.finish()
        srv.kill()


def case_silent(binary, tmp, c):
    # 1. A server that accepts and never answers: blocked inside the RTSP handshake.
    silent = SilentServer()
    os.makedirs(os.path.join(tmp, "1"))
    d = Daemon(binary, os.path.join(tmp, "1"),
               [camera("hung", f"rtsp://127.0.0.1:{silent.port}/x")])
    try:
        blind = lambda: d.sub.health_changes("hung")  # noqa: E731
        d.wait_for(blind, IO_TIMEOUT_S + 5)
        h = blind()
        if h:
            figure("silent server: blind after start", h[0][0] - d.start)
        check(h and h[0][1] == "blind" and h[0][0] - d.start < IO_TIMEOUT_S + 2.5,
              f"health blind within the I/O timeout ({IO_TIMEOUT_S:.0f} s) "
              f"of a server that never answers ({h[:1]})")
        check(h and "no response" in (h[0][2] or ""), f"health detail says why ({h[:1]})")
        check(re.search(r"warn .*\[hung\].*no response for 10 s; camera blind", d.stderr()),
              "the log says the server did not respond and the camera is blind")
        check(silent.accepted >= 1, f"the daemon did connect ({silent.accepted} connections)")
        time.sleep(1.5)   # now blocked again in the next open attempt
        check_stop(d, signal.SIGTERM, "silent server: blocked in open")
    finally:
        d.finish()
        silent.close()

    # 2. A real server frozen mid-stream (SIGSTOP): the connection stays up, no data comes.
    os.makedirs(os.path.join(tmp, "2"))
    port = free_port()
    srv = RtspServer(port, {"/cam": c["A"]})
    d = Daemon(binary, os.path.join(tmp, "2"), [camera("cam", f"rtsp://127.0.0.1:{port}/cam")])
    try:
        live = lambda: [h for h in d.sub.health_changes("cam") if h[1] == "live"]  # noqa: E731
        check(d.wait_for(live, 15), "stream live before the freeze")
        time.sleep(2)
        t_freeze = time.monotonic()
        srv.kill(signal.SIGSTOP)
        blind = lambda: [h for h in d.sub.health_changes("cam") if h[1] == "blind"]  # noqa: E731
        d.wait_for(blind, IO_TIMEOUT_S + 5)
        if blind():
            figure("frozen server: blind after freeze", blind()[0][0] - t_freeze)
        check(blind() and blind()[0][0] - t_freeze < IO_TIMEOUT_S + 2.5,
              f"health blind within the I/O timeout of a mid-stream stall ({blind()[:1]})")
        time.sleep(1.5)   # reconnecting to a frozen server: connect succeeds, DESCRIBE hangs
        check_stop(d, signal.SIGTERM, "frozen server: blocked in read/open")
    finally:
        d.finish()
        srv.kill()


def case_auth(binary, tmp, c):
    user, good, wrong = "operator", "Sup3r-Secret-PW", "Wr0ng-Secret-PW"
    port = free_port()
    srv = RtspServer(port, {"/cam": c["A"]}, user=user, password=good)
    d = Daemon(binary, tmp, [
        camera("badpass", f"rtsp://{user}:{wrong}@127.0.0.1:{port}/cam"),
        camera("nopath", f"rtsp://{user}:{good}@127.0.0.1:{port}/nosuch"),
        camera("good", f"rtsp://{user}:{good}@127.0.0.1:{port}/cam"),
    ])
    try:
        d.wait_for(lambda: False, 11.0)
        check_stop(d, signal.SIGTERM, "auth")
        err, out = d.stderr(), d.stdout()
        check(re.search(r"warn .*\[badpass\] rtsp://\*\*\*@127\.0\.0\.1:\d+/cam: open failed: "
                        r".*401 Unauthorized", err),
              "wrong password: the log says 401 Unauthorized (URL redacted)")
        check(re.search(r"warn .*\[nopath\] rtsp://\*\*\*@127\.0\.0\.1:\d+/nosuch: open failed: "
                        r".*404 Not Found", err),
              "unknown path: the log says 404 Not Found (URL redacted)")
        for cam, code in (("badpass", "401"), ("nopath", "404")):
            # The first record (with the reason) goes out within milliseconds of start, before
            # any subscriber can have joined (PUB slow joiner); the heartbeat repeats the state.
            h = d.sub.health_changes(cam)
            check(h and [x[1] for x in h] == ["blind"],
                  f"{cam}: health blind on the PUB feed, never live ({h})")
            check(h and code in (h[0][2] or ""),
                  f"{cam}: the health record says why ({code}), heartbeat included")
            tries = log_times(err, rf"\[{cam}\] .*open failed")
            gaps = [b - a for a, b in zip(tries, tries[1:])]
            figure(f"{cam}: retry gaps", gaps[-1] if gaps else 0)
            print(f"# {cam}: {len(tries)} attempts, gaps {[round(g, 2) for g in gaps]}")
            check(len(tries) >= 4 and all(b > a * 1.5 for a, b in zip(gaps, gaps[1:]))
                  and gaps[0] < 1.0,
                  f"{cam}: retried with backoff, spacing growing ({len(tries)} attempts, "
                  f"gaps {[round(g, 1) for g in gaps]})")
        check([h for _, h, _ in d.sub.health_changes("good")][:1] == ["live"],
              "the camera with the right password is live")
        raw = d.sub.raw()
        events = open(d.events_path, "rb").read()
        for pw in (good, wrong):
            check(pw not in err and pw not in out and pw.encode() not in events
                  and pw.encode() not in raw,
                  f"password {pw[:3]}... never appears in stderr, stdout, events, PUB messages")
    finally:
        d.finish()
        srv.kill()


def case_resize(binary, tmp, c):
    port = free_port()
    srv = RtspServer(port, {"/cam": c["D"]})
    dbg = os.path.join(tmp, "frames")
    os.makedirs(dbg)
    os.environ["STREETORDER_DEBUG_DIR"] = dbg   # one frame dump per analysed second
    d = Daemon(binary, tmp, [camera("cam", f"rtsp://127.0.0.1:{port}/cam")])
    del os.environ["STREETORDER_DEBUG_DIR"]
    try:
        restarted = lambda: re.search(  # noqa: E731
            r"\[cam\] frame size changed from 640x360 to 320x240: restarting analysis",
            d.stderr())
        check(d.wait_for(restarted, 25), "log: analysis restarted at the new size 320x240")
        d.wait_for(lambda: False, 6.0)     # frames keep flowing at the new size
        check(d.proc.poll() is None, "daemon still running after the switch")
        check(re.search(r"\[cam\] analysing 320x240 at [0-9.]+ fps \(decoded 320x240\)",
                        d.stderr()), "log: analysing 320x240")
        sizes = {}
        for name in sorted(os.listdir(dbg)):
            with open(os.path.join(dbg, name), "rb") as f:
                w = int(f.read(32).split()[1]) // 3
            sizes[w] = sizes.get(w, 0) + 1
        print(f"# analysed frames dumped, by width: {sizes}")
        check(sizes.get(640, 0) >= 3 and sizes.get(320, 0) >= 4,
              f"frames analysed at both sizes, several seconds after the switch ({sizes})")
        seq = [h for _, h, _ in d.sub.health_changes("cam")]
        check(seq == ["live"], f"health stayed live across the switch ({seq})")
        check_stop(d, signal.SIGINT, "resize")
        check(not re.search(r"\berror\b|\berr \b", d.stderr().replace("[h264", "")),
              "no error logged by the daemon")
    finally:
        d.finish()
        srv.kill()


def case_cameras(binary, tmp, c):
    port = free_port()
    srv = RtspServer(port, {"/cam1": c["A"], "/cam2": c["A"]})
    dead = SilentServer()
    # The file camera is paced in real time (no --fast), like a camera.
    d = Daemon(binary, tmp, [
        camera("dead", f"rtsp://127.0.0.1:{dead.port}/cam"),
        camera("rtsp1", f"rtsp://127.0.0.1:{port}/cam1"),
        camera("rtsp2", f"rtsp://127.0.0.1:{port}/cam2"),
        camera("file", c["A"]),
    ])
    healthy = ["rtsp1", "rtsp2", "file"]
    try:
        got = lambda: all(any(r["state"] == "opened" for _, r in d.sub.events(cam))  # noqa
                          for cam in healthy)
        d.wait_for(got, 35)
        for cam in healthy:
            ev = [(t, r) for t, r in d.sub.events(cam) if r["state"] == "opened"]
            if not ev:
                check(False, f"{cam}: an opened episode on the PUB feed")
                continue
            t, r = ev[0]
            # Media time 0 is the camera's first frame: for the file, the run's start; for RTSP,
            # about when it was opened (~3 s of probing, whose frames are then analysed at once,
            # so media time catches up). Either way the event must reach the platform when its
            # media_confirmed_s says, counted from the start; a camera stalled behind the dead
            # one (10 s per open attempt) would be >= 10 s late.
            late = (t - d.start) - r["media_confirmed_s"]
            figure(f"{cam}: on the feed after start + media_confirmed_s", late)
            check(abs(r["media_start_s"] - 9.2) < 5 and -1.0 < late < 4.0,
                  f"{cam}: episode opened on time (media start {r['media_start_s']:.1f} s, "
                  f"confirmed {r['media_confirmed_s']:.1f} s, on the feed {late:+.2f} s later)")
        h = d.sub.health_changes("dead")
        check(h and h[0][1] == "blind" and len(h) == 1, f"the dead camera is blind ({h})")
        check(all(d.sub.health_changes(cam)[-1][1] == "live" for cam in healthy),
              "the healthy cameras are live")
        time.sleep(0.5)
        check_stop(d, signal.SIGINT, "4 cameras, live streams + a hung one")
        check(re.search(r"SIGINT: stopping", d.stderr()), "log: SIGINT: stopping")
        recs = d.records()
        check({r["camera_id"] for r in recs} == set(healthy),
              f"events in the --events file from each healthy camera "
              f"({sorted({r['camera_id'] for r in recs})})")
    finally:
        d.finish()
        srv.kill()
        dead.close()


CASES = {"outage": case_outage, "silent": case_silent, "auth": case_auth,
         "resize": case_resize, "cameras": case_cameras}


def main():
    binary, scenes, case = sys.argv[1], sys.argv[2], sys.argv[3]
    sotest.need_rtsp_server()
    c = clips(scenes)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        CASES[case](binary, tmp, c)
    print(f"# case {case}: {time.monotonic() - t0:.1f} s")
    return sotest.finish()


if __name__ == "__main__":
    sys.exit(main())
