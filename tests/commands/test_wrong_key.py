#!/usr/bin/python3
"""Only the platform may command (issue 16 item 1, "a wrong key changes nothing"), with real
parts: the detector delivers over CURVE to the platform's public key; an impostor binds the
platform's endpoint with another key pair and tries to command it.

Usage: test_wrong_key.py STREETORDER WORKDIR

- the impostor (a python3-zmq CURVE ROUTER with the wrong secret) never completes a handshake:
  it receives nothing from the detector (no event, no answer) and cannot address it (a send to
  the detector's id fails: no such peer), and the detector logs the failed handshake;
- then the real platform binds the same endpoint: the detector delivers everything it kept
  (the demo scene's bay-1 episode, opened), and nothing it sends says an episode was
  dismissed or permitted away: the impostor changed nothing.
Exit 0 = pass (TAP).
"""
import json
import os
import sys
import time

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from sotest import Daemon, check, finish, free_port, note  # noqa: E402
from test_commands import clip  # noqa: E402
from test_desk_detector import bay_config  # noqa: E402


def router(ctx, endpoint, secret):
    s = ctx.socket(zmq.ROUTER)
    s.curve_server = True
    s.curve_secretkey = secret
    s.setsockopt(zmq.ROUTER_MANDATORY, 1)
    s.linger = 0
    for _ in range(100):    # the previous socket on this endpoint is closed asynchronously
        try:
            s.bind(endpoint)
            return s
        except zmq.ZMQError:
            time.sleep(0.1)
    s.close()
    raise RuntimeError(f"cannot bind {endpoint}")


def impostor_phase(ctx, endpoint, wrong_secret, d):
    imp = router(ctx, endpoint, wrong_secret)
    got = []
    deadline = time.time() + 8
    while time.time() < deadline:
        if imp.poll(200):
            got.append(imp.recv_multipart())
    check(not got, f"the impostor receives nothing from the detector ({len(got)} messages)")
    cmd = {"schema": "streetorder.command.v1", "id": "imp-1", "command": "permit",
           "camera_id": "demo", "zone_id": "bay-1", "from": "2020-01-01T00:00:00+00:00",
           "until": "2099-01-01T00:00:00+00:00"}
    try:
        imp.send_multipart([b"det-key", b"CMD", b"imp-1", json.dumps(cmd).encode()])
        sent = True
    except zmq.ZMQError as e:
        sent = False
        note(f"impostor send: {e}")
    check(not sent, "the impostor cannot address the detector (no peer completed a handshake)")
    check(d.wait_log("handshake with", 5) and "failed" in d.text(),
          "the detector logs the failed handshake")
    imp.close()


def platform_phase(ctx, endpoint, secret):
    real = router(ctx, endpoint, secret)
    records = []
    deadline = time.time() + 40
    while time.time() < deadline:
        if not real.poll(200):
            if any(r.get("zone_id") == "bay-1" for r in records) and time.time() > deadline - 30:
                break
            continue
        msg = real.recv_multipart()
        if len(msg) >= 4 and msg[1] == b"SOE1":
            records.append(json.loads(msg[3]))
            real.send_multipart([msg[0], b"ACK", msg[2]])
    real.close()
    return records


def main():
    binary, workdir = sys.argv[1], os.path.abspath(sys.argv[2])
    demo_yaml, video = clip(workdir)
    platform = zmq.curve_keypair()
    impostor = zmq.curve_keypair()
    detector = zmq.curve_keypair()
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    import tempfile
    with tempfile.TemporaryDirectory(prefix="so_wrongkey_") as tmp:
        cfg = bay_config(demo_yaml, video, "det-key", tmp,
                         {"endpoint": endpoint, "drain_s": 60, "resend_s": 1,
                          "server_key": platform[0].decode(),
                          "public_key": detector[0].decode(),
                          "secret_key": detector[1].decode()})
        ctx = zmq.Context()
        try:
            with Daemon(binary, cfg, tmp, args=["--fast"]) as d:
                impostor_phase(ctx, endpoint, impostor[1], d)
                records = platform_phase(ctx, endpoint, platform[1])
                states = [(r.get("zone_id"), r.get("state"), r.get("reason")) for r in records]
                check(("bay-1", "opened", None) in states,
                      f"the real platform gets what the detector kept: bay-1 opened ({states})")
                check(not any(r.get("reason") in ("dismissed", "permitted") for r in records),
                      "nothing was dismissed or permitted away by the impostor")
                d.stop()
        finally:
            ctx.term()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
