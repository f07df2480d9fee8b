#!/usr/bin/python3
"""Checks of tests/lib/sotest.py itself, against stand-ins for the daemon (a small Python
program that answers `run -c FILE --events FILE`), a real ZeroMQ PUB socket and a real HTTP
server, so that a helper which stopped waiting, reading or reporting correctly fails here
rather than making the real-process tests pass or fail for the wrong reason.

Usage: test_sotest.py     (TAP output)
"""
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sotest  # noqa: E402
from sotest import check  # noqa: E402

# The stand-in daemon: writes two records (the second in two pieces), logs, exits 0 on SIGTERM
# after `linger` seconds (argv: run -c CONFIG --events FILE LINGER).
FAKE = r"""
import json, signal, sys, time
cfg, events, linger = sys.argv[3], sys.argv[5], float(sys.argv[6])
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
with open(events, "w") as f:
    f.write(json.dumps({"seq": 1}) + "\n")
    f.flush()
    f.write('{"seq": ')
    f.flush()
    print("half written", flush=True)
    time.sleep(0.5)
    f.write('2}\n')
print("config " + open(cfg).read().splitlines()[0], flush=True)
print("ready", file=sys.stderr, flush=True)
while not stop:
    time.sleep(0.01)
time.sleep(linger)
"""


def run_py(code, env=None):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), cwd=HERE)


def case_tap():
    r = run_py("import sotest, sys; sotest.check(1, 'a'); sotest.check(0, 'b\\n c');"
               "sys.exit(sotest.finish())")
    check(r.returncode == 1 and r.stdout == "ok 1 - a\nnot ok 2 - b c\n1..2\n",
          f"a failed check: 'not ok', plan 1..2, exit 1 ({r.returncode} {r.stdout!r})")
    r = run_py("import sotest; sotest.check(0, 'got # TODO x'); sotest.check(1, '#skip')")
    check(r.stdout == "not ok 1 - got (hash) TODO x\nok 2 - (hash)skip\n",
          f"a '# TODO' / '# skip' in a name is not a TAP directive ({r.stdout!r})")
    r = run_py("import sotest, sys; sys.exit(sotest.finish())")
    check(r.returncode == 1, "no check at all is not a pass")
    env = {k: "" for k in ("CI",)}
    r = run_py("import sotest; sotest.skip('no tool')", env)
    check(r.returncode == 0 and r.stdout == "1..0 # SKIP no tool\n",
          f"TAP skip: '1..0 # SKIP', exit 0 ({r.returncode} {r.stdout!r})")
    r = run_py("import sotest; sotest.skip('no tool', tap=False)", env)
    check(r.returncode == 77, f"plain skip exits 77 ({r.returncode})")
    r = run_py("import sotest; sotest.skip('no tool')", {"CI": "1"})
    check(r.returncode == 1 and "not ok 1 - no tool (CI is set)" in r.stdout,
          f"with CI set a skip is a failure ({r.returncode} {r.stdout!r})")
    r = run_py("import sotest; sotest.asset('no/such/file')",
               {"CI": "", "STREETORDER_ASSETS": "/nonexistent"})
    check(r.returncode == 0 and "SKIP assets missing: /nonexistent/no/such/file" in r.stdout,
          f"a missing asset skips ({r.stdout.strip()})")


def case_files(tmp):
    port = sotest.free_port()
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        check(port > 0, f"free_port gives a port that can be bound ({port})")
    calls = []
    got = sotest.wait_for(lambda: calls.append(1) or (len(calls) >= 3 and "yes"), 5, step=0.01)
    check(got == "yes" and len(calls) == 3, "wait_for returns the first true value")
    t0 = time.monotonic()
    got = sotest.wait_for(lambda: 0, 0.3, step=0.05)
    took = time.monotonic() - t0
    check(got == 0 and 0.3 <= took < 1.0, f"wait_for gives up after its time ({took:.2f} s)")

    path = os.path.join(tmp, "e.jsonl")
    threading.Timer(0.2, lambda: open(path, "w").close()).start()
    check(not sotest.wait_file(path, 0.05) and sotest.wait_file(path, 5),
          "wait_file: false before the file appears, true once it does")
    os.unlink(path)
    check(sotest.read_jsonl(path) == [], "read_jsonl: a missing file has no records")
    with open(path, "w") as f:
        f.write('{"a": 1}\n{"a": 2}\n{"a":')
    check(sotest.read_jsonl(path) == [{"a": 1}, {"a": 2}],
          "read_jsonl: a line being written is left out while the writer runs")
    try:
        sotest.read_jsonl(path, partial=False)
        check(False, "read_jsonl(partial=False) refuses a torn last line")
    except ValueError:
        check(True, "read_jsonl(partial=False) refuses a torn last line")
    with open(path, "w") as f:
        f.write('{"a": 1}\nnot json\n')
    try:
        sotest.read_jsonl(path)
        check(False, "read_jsonl refuses a line that is not JSON")
    except ValueError as e:
        check(":2:" in str(e), f"read_jsonl refuses a line that is not JSON ({e})")

    sub = os.path.join(tmp, "cfgdir")
    os.makedirs(sub)
    cfg = {"cameras": [{"id": "c", "url": "clip.mp4"}, {"id": "r", "url": "rtsp://h/x"},
                       {"id": "a", "url": "/abs/clip.mp4"}], "note": "永定路"}
    p = sotest.write_config(os.path.join(sub, "c.yaml"), cfg)
    back = sotest.load_config(p)
    check([c["url"] for c in back["cameras"]] ==
          [os.path.join(sub, "clip.mp4"), "rtsp://h/x", "/abs/clip.mp4"]
          and back["note"] == "永定路" and os.listdir(sub) == ["c.yaml"],
          "write_config/load_config: round trip, relative urls resolved, no temp file left")


def case_daemon(tmp):
    fake = os.path.join(tmp, "fake.py")
    with open(fake, "w") as f:
        f.write("#!" + sys.executable + "\n" + FAKE)
    os.chmod(fake, 0o755)
    d = sotest.Daemon(fake, {"detector": {"id": "x"}}, tmp, args=("0.2",))
    try:
        check(d.wait_log("half written", 5), "wait_log sees a log line")
        check(d.records() == [{"seq": 1}], f"records() while writing: the complete ones "
                                           f"({d.records()})")
        check(d.wait_for(lambda: len(d.records()) == 2, 5), "records() then sees both")
        check(d.wait_log("ready", 5) and "config detector:" in d.text(),
              "stdout and stderr in one log, the config written from the dict")
        took = d.stop(signal.SIGTERM, timeout=5)
        check(took is not None and 0.2 <= took < 2 and d.proc.returncode == 0,
              f"stop(): SIGTERM, time to exit measured ({took})")
        check(d.records(partial=False) == [{"seq": 1}, {"seq": 2}], "records() after exit")
    finally:
        d.kill()
    os.makedirs(os.path.join(tmp, "2"))
    d = sotest.Daemon(fake, {"detector": {"id": "y"}}, os.path.join(tmp, "2"),
                      args=("30",), split_logs=True)
    try:
        d.wait_log("ready", 5)
        t0 = time.monotonic()
        check(not d.wait_for(lambda: False, 0.5), "Daemon.wait_for: false when never met")
        took = d.stop(signal.SIGTERM, timeout=1)
        check(took is None and d.proc.returncode == -signal.SIGKILL
              and time.monotonic() - t0 < 3,
              f"stop(): killed after its deadline, None ({took}, rc {d.proc.returncode})")
        check(d.stderr() == "ready\n" and "half written" in d.stdout(),
              "split_logs: stdout and stderr apart")
    finally:
        d.kill()
    d = sotest.Daemon(sys.executable, os.path.join(tmp, "nothing"), tmp,
                      events=None, args=())
    t0 = time.monotonic()
    d.wait_for(lambda: False, 10)
    check(time.monotonic() - t0 < 5 and not d.running(),
          "Daemon.wait_for gives up when the daemon has exited")


def case_peers():
    import zmq
    port = sotest.free_port()
    feed = sotest.Feed(f"tcp://127.0.0.1:{port}", settle=0)
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(f"tcp://127.0.0.1:{port}")
    try:
        msgs = [[b"health.c", json.dumps({"camera_id": "c", "health": h}).encode()]
                for h in ("live", "live", "blind", "live")]
        msgs.insert(2, [b"event.illegal_parking.c",
                        json.dumps({"camera_id": "c", "state": "opened"}).encode(), b"\xff\xd8"])
        ok = sotest.wait_for(lambda: pub.send_multipart(msgs[0]) or feed.health("c"), 5)
        check(ok, "Feed: connected and receiving (the daemon may bind after it connects)")
        for m in msgs[1:]:
            pub.send_multipart(m)
        sotest.wait_for(lambda: feed.events("c") and len(feed.health("c")) >= 5, 5)
        feed.close(after=0.1)
        changes = [h for _, h, _ in feed.health_changes("c")]
        check(changes == ["live", "blind", "live"], f"health_changes folds heartbeats {changes}")
        ev = feed.events("c")
        check(len(ev) == 1 and ev[0][1]["state"] == "opened" and b"\xff\xd8" in feed.raw(),
              "events() and raw()")
    finally:
        feed.close()
        pub.close(linger=0)
        ctx.term()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        check(sotest.http_get(base + "/healthz")[:2] == (200, b"ok") and
              sotest.http_get(base + "/x")[0] == 404 and sotest.wait_http(base + "/healthz", 2),
              "http_get: status and body, an HTTP error is an answer")
    finally:
        srv.shutdown()
        srv.server_close()
    check(sotest.http_get(base + "/healthz") == (None, b"", {}),
          "http_get: None when nothing listens")
    silent = sotest.SilentServer()
    import socket
    with socket.create_connection(("127.0.0.1", silent.port), timeout=2) as c:
        c.settimeout(0.3)
        try:
            data = c.recv(10)
        except socket.timeout:
            data = None
    silent.close()
    check(data is None and silent.accepted == 1, "SilentServer accepts and never answers")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        case_tap()
        case_files(tmp)
        case_daemon(tmp)
    case_peers()
    return sotest.finish()


if __name__ == "__main__":
    sys.exit(main())
