#!/usr/bin/python3
"""Fault tests of reliable delivery, with real processes (issue 4).

Usage: test_delivery.py STREETORDER INTAKE SCENARIO WORKDIR

Runs the real detector (build/streetorder, --fast) on the generated 'demo' scene (3 episodes,
about 6 events) with outputs.deliver pointing at a real build/streetorder-intake over ipc://, and
breaks things: the intake down then up, restarted mid-stream, the detector SIGKILLed before
any acknowledgement, a torn journal tail, a full quota, malformed messages at both ends, CURVE
with a wrong key, a detector key missing from the intake's --allow-keys list, SIGTERM during
the drain wait. After each, the intake's SQLite table must hold every journalled event once,
in seq order per camera, with its images intact, and every event it stored must match
config/event.schema.json. The scene is generated once into WORKDIR and shared by the scenarios
(file lock). Exit 0 = pass.
"""
import hashlib
import json
import os
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import jsonschema
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import sotest  # noqa: E402
from sotest import (ROOT, Daemon, check, load_config, locked, read_jsonl,  # noqa: E402
                    scene as gen_scene, wait_for, write_config)

# A city's category mapping (detector.categories) for every code the demo scene produces, so
# that the events carry local_code and local_name through the outbox and the intake too.
CATEGORIES = {"categories": {
    "0504": {"local_code": "6201020504", "local_name": "占道经营"},
    "0505": {"name": "机动车乱停放", "local_code": "6201020505", "local_name": "机动车违规停放"},
    "0507": {"local_code": "6201020507"},
}}


def scene(workdir):
    """The demo scene and a 2-second eventless clip, generated once (under a lock)."""
    demo = os.path.join(gen_scene(workdir, "demo"), "demo.mp4")
    with locked(workdir):
        tiny = os.path.join(workdir, "tiny.mp4")
        if not os.path.exists(tiny):
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            "color=gray:s=320x180:d=2:r=10", "-pix_fmt", "yuv420p",
                            tiny + ".tmp.mp4"], check=True)
            os.rename(tiny + ".tmp.mp4", tiny)
    return demo, tiny


class Run:
    """One scenario's folder: config, state dir, intake, detector."""

    def __init__(self, binary, intake, demo, tiny, tmp):
        self.binary, self.intake_bin, self.demo, self.tiny, self.tmp = (
            binary, intake, demo, tiny, tmp)
        self.endpoint = "ipc://" + os.path.join(tmp, "intake.sock")
        self.db = os.path.join(tmp, "intake.sqlite")
        self.state = os.path.join(tmp, "state")
        self.intake = None
        self.n = 0

    def config(self, clip, **deliver):
        """The demo camera reading clip, delivering to this folder's intake."""
        cams = load_config(os.path.join(os.path.dirname(self.demo), "demo.yaml"))["cameras"]
        cams[0]["url"] = clip
        d = {"endpoint": self.endpoint, "drain_s": 15, "resend_s": 1}
        d.update(deliver)
        write_config(os.path.join(self.tmp, "city-categories.yaml"), CATEGORIES)
        return {"detector": {"id": "det-a", "state_dir": self.state,
                             "categories": "city-categories.yaml"},
                "outputs": {"deliver": d}, "cameras": cams}

    def start_intake(self, *extra):
        self.intake_log = open(os.path.join(self.tmp, "intake.log"), "a")
        self.intake = subprocess.Popen([self.intake_bin, "--bind", self.endpoint, "--db",
                                        self.db, *extra], stdout=self.intake_log,
                                       stderr=subprocess.STDOUT)
        time.sleep(0.3)

    def stop_intake(self, sig=signal.SIGTERM):
        if self.intake:
            self.intake.send_signal(sig)
            self.intake.wait(10)
            self.intake = None

    def detector(self, clip=None, **deliver):
        """Start the detector (--fast); returns (Popen, events path, log path)."""
        self.n += 1
        d = Daemon(self.binary, self.config(clip or self.demo, **deliver), self.tmp,
                   config_name=f"config{self.n}.yaml", events=f"events{self.n}.jsonl",
                   args=("--fast", "--quiet"), log=f"detector{self.n}.log")
        return d.proc, d.events_path, d.log_path

    def rows(self):
        if not os.path.exists(self.db):
            return []
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute("SELECT id, event_id, seq, camera_id, json FROM events "
                               "ORDER BY id").fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            con.close()

    def evidence_ok(self):
        con = sqlite3.connect(self.db, timeout=10)
        bad = 0
        n = 0
        for event_id, sha, blob in con.execute("SELECT event_id, sha256, jpeg FROM evidence"):
            n += 1
            bad += hashlib.sha256(blob).hexdigest() != sha or blob[:2] != b"\xff\xd8"
        expected = sum(len(json.loads(r[4])["evidence"]) for r in self.rows())
        con.close()
        return bad == 0 and n == expected

    def verify(self):
        r = subprocess.run([self.intake_bin, "--db", self.db, "--verify"], capture_output=True,
                           text=True)
        return r.returncode, r.stdout

    def close(self):
        if self.intake:
            self.intake.kill()
            self.intake.wait()


def lines(path, partial=False):
    """The --events records: every line complete once the detector has exited; while it runs
    (partial=True), a line being written is left out."""
    return read_jsonl(path, partial)


def check_delivered(r, expected_events, what):
    """Every expected event in the table exactly once, seq order per camera, images intact."""
    rows = r.rows()
    ids = [row[1] for row in rows]
    check(len(ids) == len(set(ids)), f"{what}: no event stored twice ({len(ids)} rows)")
    want = {e["event_id"] for e in expected_events}
    check(want <= set(ids), f"{what}: all {len(want)} events delivered "
          f"(missing {sorted(want - set(ids))[:3]})")
    per_cam = {}
    for row in rows:
        per_cam.setdefault(row[3], []).append(row[2])
    check(all(s == sorted(s) for s in per_cam.values()), f"{what}: in seq order per camera")
    by_id = {row[1]: json.loads(row[4]) for row in rows}
    check(all(by_id.get(e["event_id"]) == e for e in expected_events if e["event_id"] in by_id),
          f"{what}: stored JSON identical to the --events lines")
    check(r.evidence_ok(), f"{what}: every image stored once, sha256 matches")


def check_schema(r):
    """Every event the intake stored (its json column) matches config/event.schema.json."""
    schema = json.load(open(os.path.join(ROOT, "config", "event.schema.json")))
    bad = []
    rows = r.rows()
    for row in rows:
        try:
            jsonschema.validate(json.loads(row[4]), schema)
        except (ValueError, jsonschema.ValidationError) as e:
            bad.append(f"seq {row[2]}: {str(e).splitlines()[0]}")
    check(not bad, f"all {len(rows)} stored events match config/event.schema.json {bad[:3]}")
    real = [json.loads(row[4]) for row in rows if json.loads(row[4])["detector_id"] != "py"]
    want = {c: m["local_code"] for c, m in CATEGORIES["categories"].items()}
    check(all(e["category"].get("local_code") == want.get(e["category"]["code"]) for e in real),
          "stored events carry the local code of detector.categories")


def read_journal(outbox):
    """Parse the outbox segments (docs/delivery.md format); returns [(seq, json)] or raises."""
    out = []
    for name in sorted(os.listdir(outbox)):
        if not name.startswith("seg-"):
            continue
        data = open(os.path.join(outbox, name), "rb").read()
        off = 0
        while off < len(data):
            magic, plen, crc, seq = struct.unpack_from("<4sIIQ", data, off)
            assert magic == b"SOJ1", f"bad magic at {name}:{off}"
            body = data[off + 12:off + 20 + plen]
            assert len(body) == 8 + plen and zlib.crc32(body) == crc, f"bad crc {name}:{off}"
            jlen = struct.unpack_from("<I", data, off + 20)[0]
            out.append((seq, json.loads(data[off + 24:off + 24 + jlen])))
            off += 20 + plen
    return out


# --- scenarios ---------------------------------------------------------------------------

def sc_down_then_up(r):
    p, events, log = r.detector()
    check(wait_for(lambda: len(lines(events, True)) >= 2, 60),
          "events produced while the intake is down")
    check(r.rows() == [], "nothing delivered while the intake is down")
    r.start_intake()
    check(p.wait(90) == 0, "detector exits 0 after draining")
    evs = lines(events)
    check(len(evs) >= 3, f"events in the --events file (got {len(evs)})")
    check_delivered(r, evs, "intake down then up")
    code, out = r.verify()
    check(code == 0 and "no gaps" in out, f"--verify: no gaps ({out.strip()})")
    acked = os.path.join(r.state, "outbox", "acked")
    check(os.path.exists(acked) and open(acked).read().strip() == str(len(evs)),
          "ack cursor at the last seq")


def sc_intake_restart(r):
    r.start_intake()
    p, events, log = r.detector()
    check(wait_for(lambda: len(r.rows()) >= 2, 60), "first events stored")
    r.stop_intake(signal.SIGKILL)
    time.sleep(1.0)
    r.start_intake()
    check(p.wait(90) == 0, "detector exits 0 after draining")
    evs = lines(events)
    check(len(evs) >= 3, f"events in the --events file (got {len(evs)})")
    check_delivered(r, evs, "intake restarted mid-stream")


def sc_sigkill_detector(r):
    p, events, log = r.detector()
    check(wait_for(lambda: len(lines(events, True)) >= 3, 60),
          "3 events journalled, none acknowledged")
    p.kill()
    p.wait()
    first = lines(events, True)     # SIGKILLed: its last line may be torn
    r.start_intake()
    p2, events2, log2 = r.detector(r.tiny)
    check(p2.wait(60) == 0, "restarted detector exits 0")
    check_delivered(r, first, "after SIGKILL and restart")
    m = re.search(r"outbox: (\d+) events? pending", open(log2).read())
    check(m is not None and int(m.group(1)) >= len(first),
          f"restart found the pending events ({m.group(0) if m else 'no outbox line'})")
    code, out = r.verify()
    check(code == 0, f"--verify: no gaps ({out.strip()})")


def sc_torn_tail(r):
    p, events, log = r.detector(drain_s=0)
    check(p.wait(90) == 0, "detector exits 0 (intake down, no drain)")
    evs = lines(events)
    outbox = os.path.join(r.state, "outbox")
    segs = sorted(f for f in os.listdir(outbox) if f.startswith("seg-"))
    last = os.path.join(outbox, segs[-1])
    os.truncate(last, os.path.getsize(last) - 7)
    r.start_intake()
    p2, events2, log2 = r.detector(r.tiny)
    check(p2.wait(60) == 0, "restarted detector exits 0")
    text = open(log2).read()
    check("torn record" in text and "truncated" in text, "torn tail reported in the log")
    check_delivered(r, evs[:-1], "torn tail")
    rows = r.rows()
    check(len(rows) == len(evs) - 1, f"only the torn record is missing ({len(rows)} rows)")
    check(all(json.loads(row[4])["schema"] == "streetorder.event.v1" for row in rows),
          "no garbage delivered")


def sc_quota(r):
    p, events, log = r.detector(drain_s=0, quota_mb=0.25)
    check(p.wait(90) == 0, "detector exits 0 with a full quota")
    evs = lines(events)
    check(len(evs) >= 4, f"every event still written to the --events file ({len(evs)})")
    text = open(log).read()
    check("DELIVERY LOSS" in text and "quota" in text, "full quota reported loudly")
    journal = read_journal(os.path.join(r.state, "outbox"))
    seqs = [s for s, _ in journal]
    check(0 < len(journal) < len(evs), f"journal holds what fits ({seqs})")
    check(seqs == sorted(seqs) and all(j == evs[s - 1] for s, j in journal),
          "journal intact (CRCs, records equal the --events lines)")
    r.start_intake()
    p2, events2, log2 = r.detector(r.tiny)
    check(p2.wait(60) == 0, "restarted detector exits 0")
    check_delivered(r, [evs[s - 1] for s in seqs], "quota")
    code, out = r.verify()
    # The lost events are the last ones, so the intake sees no gap yet (it cannot know about
    # seqs it never received until a later one arrives).
    check(code == 0 and f"seq 1..{len(seqs)}" in out, f"--verify: {out.strip()}")


def valid_message(seq=1):
    """A complete event (it matches config/event.schema.json, like everything stored)."""
    img = b"\xff\xd8fake jpeg\xff\xd9"
    t = "2024-05-01T08:00:01.500+08:00"
    rec = {"schema": "streetorder.event.v1", "event_id": "%032x" % (0xabc + seq),
           "episode_id": "%032x" % 0xe9, "seq": seq, "kind": "illegal_parking",
           "state": "opened", "reason": None, "detector_id": "py", "camera_id": "c",
           "zone_id": "z", "category": {"standard": "GB/T 30428.2", "code": "0505",
                                        "name": "机动车乱停放"},
           "grid": None, "address": None, "media_start_s": 1.5, "media_confirmed_s": 1.5,
           "media_end_s": None, "started_at": t, "confirmed_at": t, "ended_at": None,
           "dwell_s": 0.0, "objects": [],
           "evidence": [{"role": "rest", "format": "jpeg", "size": len(img),
                         "sha256": hashlib.sha256(img).hexdigest()}]}
    return [b"SOE1", str(seq).encode(), json.dumps(rec).encode(), img]


def sc_malformed(r):
    # At the intake's ROUTER.
    r.start_intake()
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 3000)
    s.connect(r.endpoint)
    bad = [[b"hello"], [b"SOE1", b"x", b"{}"], [b"SOE1", b"1", b"not json"],
           [b"SOE1", b"1", b"[1,2]"], [b"SOE1", b"99999999999999999999999", b"{}"],
           [b"\x00" * 5000] * 40]
    good = valid_message(7)
    wrong_sha = good[:3] + [b"other bytes"]
    for m in bad + [wrong_sha]:
        s.send_multipart(m)
    s.send_multipart(good)
    try:
        reply = s.recv_multipart()
    except zmq.Again:
        reply = None
    check(reply == [b"ACK", b"7"], f"valid event acknowledged after garbage (got {reply})")
    s.send_multipart(good)
    try:
        reply = s.recv_multipart()
    except zmq.Again:
        reply = None
    check(reply == [b"ACK", b"7"], "duplicate acknowledged again")
    check(r.intake.poll() is None, "intake still running")
    check(len(r.rows()) == 1, "only the valid event stored, once")
    log = open(os.path.join(r.tmp, "intake.log")).read()
    check(log.count("ignored a message") >= len(bad) + 1, "each malformed message logged")
    s.close()
    r.stop_intake()

    # At the detector's DEALER: a fake platform answering garbage, then real ACKs.
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(r.endpoint)
    p, events, log = r.detector(drain_s=20)
    answered = set()
    end = time.time() + 90
    while p.poll() is None and time.time() < end:
        if not router.poll(100):
            continue
        frames = router.recv_multipart()
        if frames[1] == b"HELO":
            continue    # the detector says which it is on connecting: nothing to answer
        ident, seq = frames[0], frames[2]
        if seq not in answered:
            for junk in ([b"NACK", seq], [b"ACK"], [b"ACK", b"abc"], [b"ACK", seq, b"x"],
                         [b"\xff" * 100]):
                router.send_multipart([ident] + junk)
            answered.add(seq)
        else:
            router.send_multipart([ident, b"ACK", seq])
    check(p.poll() == 0, "detector survives malformed replies and exits 0")
    text = open(log).read()
    check("ignored a message" in text, "malformed replies logged by the detector")
    check(len(answered) == len(lines(events)) and "every event acknowledged" in text,
          "events resent until properly acknowledged")
    router.close()
    ctx.term()


def sc_curve(r):
    server_pub, server_sec = zmq.curve_keypair()
    wrong_pub, _ = zmq.curve_keypair()
    cli_pub, cli_sec = zmq.curve_keypair()
    r.start_intake("--curve-secret", server_sec.decode())
    keys = {"public_key": cli_pub.decode(), "secret_key": cli_sec.decode()}
    p, events, log = r.detector(drain_s=2, server_key=wrong_pub.decode(), **keys)
    check(p.wait(90) == 0, "detector with a wrong server key exits 0")
    check(r.rows() == [], "a client with the wrong key delivers nothing")
    evs = lines(events)
    # A subscriber-like peer with the wrong key gets nothing either: a DEALER to the intake.
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.curve_serverkey, s.curve_publickey, s.curve_secretkey = wrong_pub, cli_pub, cli_sec
    s.connect(r.endpoint)
    s.send_multipart(valid_message(1), flags=zmq.NOBLOCK) if s.poll(300, zmq.POLLOUT) else None
    check(s.poll(1000) == 0, "a wrong-key peer receives nothing")
    s.close()
    ctx.term()
    # The right key: the pending events go through, encrypted.
    p2, events2, log2 = r.detector(r.tiny, server_key=server_pub.decode(), **keys)
    check(p2.wait(60) == 0, "detector with the right key exits 0")
    check_delivered(r, evs, "CURVE with the right key")


def sc_curve_allow(r):
    """--allow-keys: a detector whose key is not listed delivers nothing and keeps its events."""
    server_pub, server_sec = zmq.curve_keypair()
    listed_pub, listed_sec = zmq.curve_keypair()
    other_pub, other_sec = zmq.curve_keypair()
    allow = os.path.join(r.tmp, "allowed-keys")
    with open(allow, "w") as f:
        f.write("# detectors allowed to deliver\n\n%s  nvr-07\n" % listed_pub.decode())
    r.start_intake("--curve-secret", server_sec.decode(), "--allow-keys", allow)
    check(r.intake.poll() is None, "intake runs with --allow-keys")
    # An unlisted detector that knows the server key: the handshake is refused.
    p, events, log = r.detector(drain_s=2, server_key=server_pub.decode(),
                                public_key=other_pub.decode(), secret_key=other_sec.decode())
    check(p.wait(90) == 0, "unlisted detector exits 0 after its drain wait")
    evs = lines(events)
    check(len(evs) >= 3, f"events in the --events file (got {len(evs)})")
    check(r.rows() == [], "nothing stored from an unlisted key")
    text = open(log).read()
    check("handshake" in text and "failed" in text, "refused handshake logged by the detector")
    check(re.search(r"\d+ events? still unacknowledged", text) is not None,
          "detector reports what is left unacknowledged")
    journal = read_journal(os.path.join(r.state, "outbox"))
    check([j for _, j in journal] == evs, f"all {len(evs)} events kept in the outbox")
    acked = os.path.join(r.state, "outbox", "acked")
    check(not os.path.exists(acked) or open(acked).read().strip() in ("", "0"),
          "nothing acknowledged")
    ilog = open(os.path.join(r.tmp, "intake.log")).read()
    check("refused a client with public key " + other_pub.decode() in ilog,
          "intake logs the refused key")
    # A raw client with an unlisted key: its message is not stored, it receives nothing.
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.curve_serverkey, s.curve_publickey, s.curve_secretkey = server_pub, other_pub, other_sec
    s.connect(r.endpoint)
    if s.poll(300, zmq.POLLOUT):
        s.send_multipart(valid_message(1), flags=zmq.NOBLOCK)
    check(s.poll(1500) == 0, "an unlisted peer receives nothing")
    s.close()
    ctx.term()
    check(r.rows() == [], "nothing stored from an unlisted peer")
    # The listed key: the kept events go through first.
    p2, events2, log2 = r.detector(r.tiny, server_key=server_pub.decode(),
                                   public_key=listed_pub.decode(), secret_key=listed_sec.decode())
    check(p2.wait(60) == 0, "listed detector exits 0")
    check_delivered(r, evs, "CURVE with a listed key")
    # A bad allow-list is refused at start.
    bad = os.path.join(r.tmp, "bad-keys")
    with open(bad, "w") as f:
        f.write("not-a-key\n")
    q = subprocess.run([r.intake_bin, "--bind", r.endpoint + "-2", "--db", r.db + "-2",
                        "--curve-secret", server_sec.decode(), "--allow-keys", bad],
                       capture_output=True, text=True, timeout=10)
    check(q.returncode != 0 and "bad-keys:1: expected a 40-character Z85 public key"
          in q.stdout + q.stderr, f"a malformed allow-list is refused ({q.returncode})")


def sc_sigterm_drain(r):
    """SIGTERM while waiting for acknowledgements: exit within 2 s, the outbox keeps the rest."""
    p, events, log = r.detector(drain_s=60)
    check(wait_for(lambda: "waiting up to" in open(log).read(), 90),
          "detector waits for acknowledgements at the end of its input (intake down)")
    time.sleep(0.5)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        code = p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        code = p.wait()
    took = time.monotonic() - t0
    check(took < 2.0, f"SIGTERM during the drain wait: exited in {took:.2f} s (< 2 s)")
    check(code == 0, f"exit status 0 after SIGTERM (got {code})")
    evs = lines(events)
    check(len(evs) >= 3, f"events in the --events file (got {len(evs)})")
    journal = read_journal(os.path.join(r.state, "outbox"))
    check([j for _, j in journal] == evs, f"all {len(evs)} events left in the outbox")
    # The next start with the same state directory sends them first.
    r.start_intake()
    p2, events2, log2 = r.detector(r.tiny)
    check(p2.wait(60) == 0, "restarted detector exits 0")
    check_delivered(r, evs, "after SIGTERM during the drain wait")


SCENARIOS = {
    "intake-down-then-up": sc_down_then_up,
    "intake-restart": sc_intake_restart,
    "sigkill-detector": sc_sigkill_detector,
    "torn-tail": sc_torn_tail,
    "quota": sc_quota,
    "malformed": sc_malformed,
    "curve": sc_curve,
    "curve-allow": sc_curve_allow,
    "sigterm-drain": sc_sigterm_drain,
}


def main(argv):
    binary, intake, name, workdir = argv[1:5]
    workdir = os.path.abspath(workdir)
    demo, tiny = scene(workdir)
    with tempfile.TemporaryDirectory(prefix=f"so-fault-{name}-") as tmp:
        r = Run(binary, intake, demo, tiny, tmp)
        try:
            SCENARIOS[name](r)
            check_schema(r)
        finally:
            r.close()
        failed = sotest.failures()
        if failed:
            for f in sorted(os.listdir(tmp)):
                if f.endswith(".log"):
                    print(f"--- {f}")
                    print(open(os.path.join(tmp, f)).read()[-4000:])
    print(f"{name}: {'FAILED: ' + '; '.join(failed) if failed else 'passed'}")
    return sotest.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
