"""detector_peer: a detector's side of the delivery channel, in Python, for tests of the intake
and its case desk (tests/intake/test_desk_api.py, tests/ui/test_desk.py).

Why this file exists: the desk's tests need a detector that delivers episodes on cue (opened,
update, cleared, a verification record) and answers the commands the intake sends back, without
waiting for a clip to produce them. This peer speaks the real wire format (docs/delivery.md and
the case-loop messages of docs/desk.md) on a real ZeroMQ DEALER socket:

    DEALER -> ROUTER  [ "SOE1", seq, json, jpeg... ]     records that config/event.schema.json
                                                         accepts, real JPEG evidence with its
                                                         size and SHA-256
    ROUTER -> DEALER  [ "ACK", seq ]                     counted in `acked`
    ROUTER -> DEALER  [ "CMD", id, json ]                recorded in `commands`, answered at once
    DEALER -> ROUTER  [ "CRES", id, json ]               as the real detector will: ok for a
                                                         known episode, an error otherwise, the
                                                         same answer with "duplicate" for a
                                                         replayed id
and, for `verify`, a `verification` record (result `present` unless told otherwise, one still
with role "verification") through the same channel as any event.

Everything runs on one thread of the peer's own (the DEALER socket is touched by that thread
only); the test calls into it through a queue. The lead's end-to-end test replaces this peer by
the real detector; the test steps stay the same.
"""
import contextlib
import hashlib
import json
import os
import queue
import threading
import time


def jpeg(width=160, height=90, shade=128):
    """A real JPEG picture (OpenCV when present, else a fixed baseline JPEG made by hand)."""
    try:
        import cv2
        import numpy as np
        img = np.full((height, width, 3), shade, np.uint8)
        cv2.rectangle(img, (width // 4, height // 4), (width * 3 // 4, height * 3 // 4),
                      (0, 0, 255), 2)
        return cv2.imencode(".jpg", img)[1].tobytes()
    except ImportError:
        import base64
        # 1x1 grey baseline JPEG
        return base64.b64decode(
            "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////"
            "////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAA"
            "AAAAAAAAAP/aAAgBAQABPxA=")


def now_iso():
    t = time.time()
    lt = time.localtime(t)
    off = lt.tm_gmtoff
    return (time.strftime("%Y-%m-%dT%H:%M:%S", lt) + f".{int(t * 1000) % 1000:03d}" +
            f"{'+' if off >= 0 else '-'}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}")


def new_id():
    import uuid
    return uuid.uuid4().hex


class Episode:
    """What a detector knows about one episode: enough to write its records."""

    def __init__(self, camera="cam-1", zone="bay-1", kind="illegal_parking", code="0505",
                 name="机动车乱停放", grid="440305001001001", address="深南大道 1 号"):
        self.id = new_id()
        self.camera, self.zone, self.kind = camera, zone, kind
        self.code, self.name, self.grid, self.address = code, name, grid, address
        self.started_at = now_iso()
        self.dwell = 0.0


def two_episodes():
    """The pair the desk's tests use: a parked car on cam-1 (0505) and a stall on cam-2 (0504)."""
    return Episode(), Episode(camera="cam-2", zone="stall", kind="stall_encroachment",
                              code="0504", name="占道经营", grid="440305001001009",
                              address="东门路 5 号")


class DetectorPeer:
    """A DEALER connected to the intake at `endpoint`, delivering as `detector_id`.

    answer(command) -> dict may be given to override the answers (the default behaves like the
    detector: see the module's text). `verify_result` is what a verify finds."""

    def __init__(self, endpoint, detector_id="det-1", curve=None, answer=None,
                 verify_result="present"):
        import zmq
        self.zmq = zmq
        self.endpoint = endpoint
        self.detector_id = detector_id
        self.curve = curve
        self.custom_answer = answer
        self.verify_result = verify_result
        self.seq = 0
        self.acked = set()
        self.commands = []          # (id, command dict) in arrival order, replays included
        self.answers = {}           # id -> the answer sent
        self.episodes = {}          # episode id -> Episode (known to this "detector")
        self.dismissed = {}         # episode id -> the dismiss command
        self.lock = threading.Lock()
        self.outq = queue.Queue()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    # ---- the records a detector sends -------------------------------------------------------
    def record(self, ep, state, reason=None, evidence=(), extra=None):
        """Send one record of episode `ep` with evidence [(role, jpeg bytes)]; returns seq."""
        with self.lock:
            self.seq += 1
            seq = self.seq
            self.episodes[ep.id] = ep
        ev = [{"role": role, "format": "jpeg", "size": len(data),
               "sha256": hashlib.sha256(data).hexdigest()} for role, data in evidence]
        now = now_iso()
        rec = {"schema": "streetorder.event.v1", "event_id": new_id(), "episode_id": ep.id,
               "seq": seq, "kind": ep.kind, "state": state, "reason": reason,
               "detector_id": self.detector_id, "camera_id": ep.camera, "zone_id": ep.zone,
               "category": {"standard": "GB/T 30428.2", "code": ep.code, "name": ep.name},
               "grid": ep.grid, "address": ep.address, "location": None,
               "media_start_s": 0.0, "media_confirmed_s": 20.0,
               "media_end_s": ep.dwell if state == "cleared" else None,
               "started_at": ep.started_at, "confirmed_at": ep.started_at,
               "ended_at": now if state == "cleared" else None, "dwell_s": ep.dwell,
               "objects": [{"class": "car", "score": 0.9, "box": [10, 10, 60, 40]}],
               "evidence": ev, "model": None}
        rec.update(extra or {})
        self.outq.put([b"SOE1", str(seq).encode(), json.dumps(rec).encode()] +
                      [data for _, data in evidence])
        return seq

    def opened(self, ep, dwell=20.0):
        ep.dwell = dwell
        return self.record(ep, "opened", evidence=[("rest", jpeg(shade=90)),
                                                   ("confirm", jpeg(shade=120))])

    def update(self, ep, dwell):
        ep.dwell = dwell
        return self.record(ep, "update")

    def cleared(self, ep, reason="left", dwell=None):
        ep.dwell = dwell if dwell is not None else ep.dwell + 30
        return self.record(ep, "cleared", reason=reason,
                           evidence=[("after", jpeg(shade=200))] if reason == "left" else [])

    def verification(self, ep, command_id, result, reason):
        still = [("verification", jpeg(shade=60))] if result != "unknown" else []
        return self.record(ep, "verification", evidence=still, extra={
            "verification": {"command_id": command_id, "result": result, "reason": reason}})

    def wait_acked(self, seq, seconds=10):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if seq in self.acked:
                return True
            time.sleep(0.02)
        return False

    def wait_command(self, pred, seconds=10):
        """The first command (id, body) that pred(body) accepts, or None after `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with self.lock:
                for cid, body in self.commands:
                    if pred(body):
                        return cid, body
            time.sleep(0.02)
        return None

    def close(self):
        self._stop.set()
        self.thread.join(5)

    # ---- the detector's side of commands ----------------------------------------------------
    def _answer(self, cid, body):
        if cid in self.answers:
            return dict(self.answers[cid], duplicate=True), None
        if self.custom_answer:
            return self.custom_answer(body), None
        res = {"schema": "streetorder.command_result.v1", "id": cid, "ok": True}
        follow = None
        ep = self.episodes.get(body.get("episode_id"))
        if body.get("schema") != "streetorder.command.v1" or body.get("id") != cid:
            res.update(ok=False, error="not a streetorder.command.v1 with this id")
        elif body.get("command") in ("verify", "dismiss") and not ep:
            res.update(ok=False, error=f"unknown episode {body.get('episode_id')}")
        elif body.get("command") == "dismiss":
            if body.get("reason") not in ("false_alarm", "permitted", "fixture"):
                res.update(ok=False, error="reason: expected false_alarm, permitted or fixture")
            else:
                self.dismissed[ep.id] = body
                follow = lambda: self.cleared(ep, reason="dismissed")  # noqa: E731
        elif body.get("command") == "verify":
            result = self.verify_result
            follow = lambda: self.verification(  # noqa: E731
                ep, cid, result, "the object is still at its place" if result == "present"
                else "the place is empty" if result == "gone" else "camera blind")
        else:
            res.update(ok=False, error=f"unknown command {body.get('command')!r}")
        return res, follow

    def _run(self):
        zmq = self.zmq
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, 20)
        if self.curve:
            server_key, public, secret = self.curve
            s.curve_serverkey, s.curve_publickey, s.curve_secretkey = (server_key, public,
                                                                         secret)
        s.connect(self.endpoint)
        while not self._stop.is_set():
            while True:
                try:
                    s.send_multipart(self.outq.get_nowait())
                except queue.Empty:
                    break
            try:
                parts = s.recv_multipart()
            except zmq.Again:
                continue
            if parts[0] == b"ACK" and len(parts) == 2:
                self.acked.add(int(parts[1]))
            elif parts[0] == b"CMD" and len(parts) == 3:
                cid = parts[1].decode()
                try:
                    body = json.loads(parts[2])
                except ValueError:
                    body = {}
                with self.lock:
                    self.commands.append((cid, body))
                res, follow = self._answer(cid, body)
                self.answers.setdefault(cid, res)
                s.send_multipart([b"CRES", parts[1], json.dumps(res).encode()])
                if follow:
                    follow()
        s.close(0)
        ctx.term()


# ---- the intake with its desk, as the tests start it ------------------------------------------
USERS = {"watcher": ("viewer", "view-pw 3d1"), "chief": ("operator", "op-pw 8e2")}


def write_users(path, users=None):
    """A users file (docs/http.md) with sha512-crypt hashes made by `openssl passwd -6`."""
    import subprocess
    with open(path, "w") as f:
        for name, (role, pw) in (users or USERS).items():
            h = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=pw, text=True,
                               capture_output=True, check=True).stdout.strip()
            f.write(f"{name} {role} {h}\n")
    return path


def basic(user, users=None):
    import base64
    token = base64.b64encode(f"{user}:{(users or USERS)[user][1]}".encode()).decode()
    return {"Authorization": "Basic " + token}


class DeskIntake:
    """build/streetorder-intake with --http on free local ports, its output in TMP/intake.log.

    endpoint: where detectors deliver; base: the desk's URL; api(): one JSON API call."""

    def __init__(self, binary, tmp, db=None, users=True, args=()):
        import subprocess
        from sotest import free_port
        self.tmp = tmp
        self.db = db or os.path.join(tmp, "intake.db")
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.users = write_users(os.path.join(tmp, "users")) if users else None
        argv = [binary, "--bind", self.endpoint, "--db", self.db, "--http",
                f"127.0.0.1:{self.port}"] + (["--users", self.users] if users else []) + list(args)
        self.log_path = os.path.join(tmp, "intake.log")
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)

    def ready(self, seconds=10):
        from sotest import wait_http
        return wait_http(self.base + "/healthz", seconds)

    def api(self, path, user="chief", method="GET", body=None, headers=None):
        """(status, parsed JSON or raw bytes) of one request as `user` (None: no credentials),
        with more `headers` if given."""
        import urllib.error
        import urllib.request
        headers = dict(headers or {}, **(basic(user) if user else {}))
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, raw, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        return status, json.loads(raw) if ctype.startswith("application/json") else raw

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:   # noqa: BLE001 - killed below
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@contextlib.contextmanager
def desk_with_peer(binary, tmp, **peer_args):
    """An intake with its desk and a DetectorPeer delivering to it, for a `with`: yields
    (desk, peer); on the way out the peer is closed and the intake stopped, its clean exit
    checked and, after any failed check, its log shown."""
    from sotest import check, failures, note
    desk = DeskIntake(binary, tmp)
    peer = None
    try:
        check(desk.ready(), "the intake serves the desk")
        peer = DetectorPeer(desk.endpoint, **peer_args)
        yield desk, peer
    finally:
        if peer:
            peer.close()
        rc = desk.stop()
        check(rc == 0, f"the intake stops cleanly on SIGTERM ({rc})")
        if failures():
            note(desk.text()[-4000:])
