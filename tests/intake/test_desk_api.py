#!/usr/bin/python3
"""The case desk's JSON API (issue 16 item 2, docs/desk.md) against the real
build/streetorder-intake, with a real detector-side peer (tests/lib/detector_peer.py: a ZeroMQ
DEALER sending SOE1 events and answering CMD with CRES as the detector does) over TCP.

Checks:
- access: /healthz open; no or wrong credentials 401, a viewer's action 403, an action posted
  from another site (Origin) 403, all counted;
- the queue: one row per episode (an update changes the row, adds none), with the GB/T code
  and name, grid, address, camera, dwell and before/at/after thumbnails that serve JPEGs;
  filters by state, category, camera, grid and day;
- actions: confirm (history names the operator; twice is 409), verify (the peer receives the
  `verify` command, its CRES is recorded, the verification record's result and still appear on
  the case), reject (the peer receives `dismiss` with reason false_alarm; its `cleared`
  `dismissed` record leaves the case rejected), close; bad arguments, unknown cases and
  actions get clear errors;
- auto-close: a `cleared` with reason `left` closes the case, with its after-image;
- a detector that is not connected: the action answers 202 with a clear error and the command
  stays pending; once the detector delivers again (a new connection) it receives the command;
- an answer with an unknown command id, garbage, and an answer to a real command from another
  connection than the commanded detector's are ignored and logged, nothing changes;
- the same over CURVE (--curve-secret): events in, a command out, its answer back;
- statistics by state, zone, category and hour of day;
- migration: a database written by an intake older than the desk (no case tables) gets its
  cases built from the stored events when the new intake opens it (with --no-auto-close, the
  cleared/left episodes stay open).

Usage: test_desk_api.py INTAKE_BIN     (TAP output)
"""
import os
import sqlite3
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from detector_peer import (DeskIntake, DetectorPeer, Episode, desk_with_peer,  # noqa: E402
                           two_episodes)
from sotest import check, finish, wait_for  # noqa: E402


def case(desk, ep_id):
    return desk.api(f"/api/cases/{ep_id}", user="watcher")[1]


def access_cases(desk):
    check(desk.api("/healthz", user=None)[0] == 200, "/healthz needs no credentials")
    check(desk.api("/api/cases", user=None)[0] == 401, "the queue without credentials: 401")
    import urllib.request
    import urllib.error
    req = urllib.request.Request(desk.base + "/api/cases",
                                 headers={"Authorization": "Basic Y2hpZWY6d3Jvbmc="})
    try:
        status = urllib.request.urlopen(req, timeout=5).status
    except urllib.error.HTTPError as e:
        status = e.code
    check(status == 401, f"a wrong password: 401 ({status})")
    check(desk.api("/", user="watcher")[0] == 200, "a viewer gets the queue page")
    status, body = desk.api("/api/cases/" + "0" * 32 + "/confirm", user="watcher", method="POST")
    check(status == 403, f"a viewer's action: 403 ({status})")
    status, body = desk.api("/api/cases/" + "0" * 32 + "/confirm", method="POST",
                            headers={"Origin": "http://evil.example"})
    check(status == 403 and "cross-site" in body.get("error", ""),
          f"an operator's action posted from another site: 403 ({status} {body})")
    status, body = desk.api("/api/cases/" + "0" * 32 + "/confirm", method="POST",
                            headers={"Origin": desk.base})
    check(status == 404, f"... from the desk's own page it goes on (no such case: {status})")
    metrics = desk.api("/metrics", user="watcher")[1].decode()
    check("streetorder_http_unauthorized_total 2" in metrics and
          "streetorder_http_forbidden_total 2" in metrics,
          "401 and 403 are counted on /metrics")


def queue_cases(desk, peer, ep1, ep2):
    s1 = peer.opened(ep1)
    check(peer.wait_acked(s1), "the intake acknowledges the opened record")
    s2 = peer.update(ep1, dwell=50.0)
    s3 = peer.opened(ep2)
    check(peer.wait_acked(s2) and peer.wait_acked(s3), "... and the update and a second case")
    status, q = desk.api("/api/cases", user="watcher")
    rows = {c["episode_id"]: c for c in q["cases"]}
    check(status == 200 and q["count"] == 2 and set(rows) == {ep1.id, ep2.id},
          f"one row per episode, not per event ({q.get('count')})")
    r = rows.get(ep1.id, {})
    check(r.get("state") == "new" and r.get("episode_state") == "update" and
          r.get("dwell_s") == 50.0, f"the row shows the latest state and dwell ({r.get('state')},"
          f" {r.get('episode_state')}, {r.get('dwell_s')})")
    check(r.get("category_code") == "0505" and r.get("category_name") == "机动车乱停放" and
          r.get("grid") == ep1.grid and r.get("address") == ep1.address and
          r.get("camera_id") == "cam-1" and r.get("zone_id") == "bay-1",
          "... the GB/T code and name, grid, address, camera and zone")
    th = r.get("thumbs", {})
    check(th.get("before") and th.get("at") and th.get("after") is None,
          f"... thumbnails before and at (no after yet): {th}")
    status, img = desk.api(th.get("at") or "/", user="watcher")
    check(status == 200 and img[:2] == b"\xff\xd8", "a thumbnail is served as a JPEG")
    check(r.get("actions") == ["confirm", "reject", "verify", "close"],
          f"a new case offers every action ({r.get('actions')})")
    today = ep1.started_at[:10]
    for query, want in [("state=new", 2), ("state=closed", 0), ("camera=cam-2", 1),
                        ("category=0505", 1), ("category=0504", 1), ("grid=" + ep1.grid, 1),
                        (f"day={today}", 2), ("day=2001-01-01", 0),
                        ("camera=cam-1&state=new", 1)]:
        got = desk.api("/api/cases?" + query, user="watcher")[1]["count"]
        check(got == want, f"filter {query}: {want} case(s) ({got})")


def action_cases(desk, peer, ep1, ep2):
    status, out = desk.api(f"/api/cases/{ep1.id}/confirm", method="POST", body={"note": "ok"})
    c = out.get("case") or {}
    check(status == 200 and c.get("state") == "confirmed", f"confirm: 立案 ({status})")
    hist = c.get("history", [])
    check(hist and hist[-1]["actor"] == "chief" and hist[-1]["action"] == "confirm" and
          hist[-1]["note"] == "ok", f"... the history names the operator ({hist[-1:]})")
    status, out = desk.api(f"/api/cases/{ep1.id}/confirm", method="POST")
    check(status == 409 and "already confirmed" in out.get("error", ""),
          f"confirming twice: 409 and why ({status} {out.get('error')})")

    status, out = desk.api(f"/api/cases/{ep1.id}/verify", method="POST")
    cmd = out.get("command") or {}
    check(status == 200 and cmd.get("status") == "sent", f"verify: the command is sent "
          f"({status} {cmd.get('status')})")
    got = peer.wait_command(lambda b: b.get("command") == "verify")
    check(got and got[1].get("episode_id") == ep1.id and got[0] == cmd.get("id") and
          got[1].get("schema") == "streetorder.command.v1",
          f"the detector receives verify for the episode ({got})")
    done = wait_for(lambda: case(desk, ep1.id).get("verify_result") == "present", 10)
    c = case(desk, ep1.id)
    check(done, f"the verification record's result appears on the case ({c.get('verify_result')})")
    vimgs = [i for e in c.get("events", []) if e["state"] == "verification" for i in e["images"]]
    check(len(vimgs) == 1 and vimgs[0]["role"] == "verification" and
          desk.api(vimgs[0]["url"], user="watcher")[1][:2] == b"\xff\xd8",
          "... with its still")
    cmds = {m["id"]: m for m in c.get("commands", [])}
    check(cmds.get(cmd.get("id"), {}).get("status") == "ok",
          f"... and the CRES answer is recorded ({cmds})")
    check(c.get("state") == "confirmed", "verify leaves the state as it was")

    status, out = desk.api(f"/api/cases/{ep2.id}/reject", method="POST",
                           body={"reason": "nonsense"})
    check(status == 400 and "reason" in out.get("error", ""),
          f"reject with a bad reason: 400 and why ({status} {out.get('error')})")
    status, out = desk.api(f"/api/cases/{ep2.id}/reject", method="POST")
    check(status == 200 and (out.get("case") or {}).get("state") == "rejected",
          f"reject as a false alarm ({status})")
    got = peer.wait_command(lambda b: b.get("command") == "dismiss")
    check(got and got[1].get("episode_id") == ep2.id and got[1].get("reason") == "false_alarm",
          f"the detector receives dismiss, reason false_alarm ({got})")
    done = wait_for(lambda: case(desk, ep2.id).get("end_reason") == "dismissed", 10)
    c = case(desk, ep2.id)
    check(done and c.get("state") == "rejected" and c.get("actions") == [],
          f"its cleared/dismissed record arrives, the case stays rejected, no action left "
          f"({c.get('episode_state')} {c.get('end_reason')} {c.get('state')})")

    for path, want, what in [(f"/api/cases/{'f' * 32}/close", 404, "no case"),
                             (f"/api/cases/{ep1.id}/explode", 404, "unknown action"),
                             (f"/api/cases/{ep2.id}/close", 409, "rejected")]:
        status, out = desk.api(path, method="POST")
        check(status == want and what in out.get("error", ""),
              f"{path.rsplit('/', 1)[1]}: {want}, '{what}' ({status} {out.get('error')})")


def autoclose_cases(desk, peer, ep1):
    s = peer.cleared(ep1, reason="left")
    check(peer.wait_acked(s), "the cleared record is acknowledged")
    c = case(desk, ep1.id)
    check(c.get("state") == "closed" and c["history"][-1]["actor"] == "auto" and
          c["history"][-1]["action"] == "auto_close",
          f"a cleared with reason left auto-closes the case ({c.get('state')})")
    check(c.get("thumbs", {}).get("after"), "... and the after-image is its third thumbnail")


def offline_cases(desk, tmp):
    peer2 = DetectorPeer(desk.endpoint, detector_id="det-2")
    ep3 = Episode(camera="cam-3", zone="walk", kind="sidewalk_occupied", code="0504",
                  name="占道经营", grid="440305001001002", address=None)
    check(peer2.wait_acked(peer2.opened(ep3)), "a second detector delivers a case")
    peer2.close()
    time.sleep(0.5)
    status, out = desk.api(f"/api/cases/{ep3.id}/reject", method="POST",
                           body={"reason": "fixture", "note": "a kiosk"})
    cmd = out.get("command") or {}
    check(status == 202 and "det-2 is not connected" in out.get("error", "") and
          cmd.get("status") == "pending",
          f"reject while its detector is away: 202, a clear error, the dismiss kept pending "
          f"({status} {out.get('error')} {cmd.get('status')})")
    peer3 = DetectorPeer(desk.endpoint, detector_id="det-2")
    peer3.episodes[ep3.id] = ep3
    check(peer3.wait_acked(peer3.update(ep3, 90.0)), "the detector comes back and delivers")
    got = peer3.wait_command(lambda b: b.get("command") == "dismiss")
    check(got and got[0] == cmd.get("id") and got[1].get("reason") == "fixture",
          f"... and then receives the pending dismiss ({got})")
    ok = wait_for(lambda: desk.api(f"/api/commands/{cmd.get('id')}", user="watcher")[1]
                  .get("status") == "ok", 10)
    check(ok, "... whose answer is recorded")
    status, det = desk.api("/api/detectors", user="watcher")
    names = sorted(d["detector_id"] for d in det.get("detectors", []))
    check(names == ["det-1", "det-2"], f"/api/detectors lists both ({names})")
    peer3.close()


def garbage_cases(desk, peer, ep1):
    import json
    before = desk.api("/api/stats", user="watcher")[1]
    # One kind a second at most is logged (rate limit): a pause between the kinds.
    peer.outq.put([b"CRES", b"nosuchcommand", json.dumps(
        {"schema": "streetorder.command_result.v1", "id": "nosuchcommand", "ok": True}).encode()])
    time.sleep(1.1)
    for _ in range(50):
        peer.outq.put([b"CRES", b"x", b"{not json"])
    time.sleep(1.1)
    # A real command's id, answered by another connection than its detector's.
    cmd = case(desk, ep1.id)["commands"][0]
    other = DetectorPeer(desk.endpoint, detector_id="det-other")
    other.outq.put([b"CRES", cmd["id"].encode(), json.dumps(
        {"schema": "streetorder.command_result.v1", "id": cmd["id"], "ok": False,
         "error": "forged"}).encode()])
    time.sleep(0.5)
    other.close()
    after = desk.api("/api/stats", user="watcher")[1]
    forged = desk.api(f"/api/commands/{cmd['id']}", user="watcher")[1]
    check(before == after and forged.get("status") == "ok" and forged.get("error") is None and
          desk.proc.poll() is None,
          f"answers to unknown commands, garbage and an answer from another connection change "
          f"nothing ({forged.get('status')})")
    log = desk.text()
    check("ignored a command answer: unknown command id" in log and
          "ignored a command answer: malformed" in log and
          "ignored a command answer: not from the connection of the detector" in log,
          "... and are logged")
    check(log.count("ignored a command answer") == 3 and "(52 ignored so far)" in log,
          f"... at most a line a second, with the count "
          f"({log.count('ignored a command answer')} lines)")


def stats_cases(desk):
    status, st = desk.api("/api/stats", user="watcher")
    check(status == 200 and st["total"] == 3 and
          st["by_state"] == {"closed": 1, "rejected": 2}, f"stats by state ({st.get('by_state')})")
    zones = {(z["camera_id"], z["zone_id"]): z["cases"] for z in st["by_zone"]}
    check(zones == {("cam-1", "bay-1"): 1, ("cam-2", "stall"): 1, ("cam-3", "walk"): 1},
          f"... by zone ({zones})")
    cats = {c["category_code"]: (c["category_name"], c["cases"]) for c in st["by_category"]}
    check(cats == {"0505": ("机动车乱停放", 1), "0504": ("占道经营", 2)},
          f"... by category ({cats})")
    hour = int(time.strftime("%H"))
    check(len(st["by_hour"]) == 24 and st["by_hour"][hour] == 3 and sum(st["by_hour"]) == 3,
          f"... by hour of day ({st['by_hour']})")


def migration_cases(binary, tmp, db, name="old.db", args=(), want=("closed", "new", "new")):
    """An old database: only events and evidence (what intakes before the desk wrote)."""
    old = os.path.join(tmp, name)
    src = sqlite3.connect(db)
    dst = sqlite3.connect(old)
    for (sql,) in src.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND "
                              "name IN ('events', 'evidence')"):
        dst.execute(sql.replace(", episode_id TEXT", ""))
    cols = ("event_id, seq, detector_id, camera_id, zone_id, kind, state, category_code, grid,"
            " media_start_s, media_end_s, received_at, status, json")
    dst.executemany(f"INSERT INTO events ({cols}) VALUES ({','.join('?' * 14)})",
                    src.execute(f"SELECT {cols} FROM events ORDER BY id"))
    dst.executemany("INSERT INTO evidence VALUES (?,?,?,?,?)",
                    src.execute("SELECT * FROM evidence"))
    dst.commit()
    dst.close()
    src.close()
    desk = DeskIntake(binary, tmp, db=old, users=False, args=args)
    try:
        check(desk.ready(), f"the new intake {' '.join(args)} opens the old database")
        q = desk.api("/api/cases", user=None)[1]
        states = sorted(c["state"] for c in q.get("cases", []))
        check(q.get("count") == 3 and states == list(want),
              f"... and builds one case per stored episode, auto-close "
              f"{'not ' if args else ''}replayed ({states})")
    finally:
        desk.stop()


def curve_cases(binary, tmp):
    """The same channel as a CURVE server: events in, a command out, its answer back."""
    import zmq
    server_pub, server_secret = zmq.curve_keypair()
    client = zmq.curve_keypair()
    desk = DeskIntake(binary, tmp, db=os.path.join(tmp, "curve.db"), users=False,
                      args=("--curve-secret", server_secret.decode()))
    peer = DetectorPeer(desk.endpoint, detector_id="det-curve",
                        curve=(server_pub, client[0], client[1]))
    try:
        check(desk.ready(), "an intake with --curve-secret serves the desk")
        ep = Episode()
        check(peer.wait_acked(peer.opened(ep)), "... a CURVE detector delivers a case")
        status, out = desk.api(f"/api/cases/{ep.id}/verify", user=None, method="POST")
        got = peer.wait_command(lambda b: b.get("command") == "verify")
        check(status == 200 and got and got[1].get("episode_id") == ep.id,
              f"... and receives the verify command over CURVE ({status})")
        ok = wait_for(lambda: case(desk, ep.id).get("verify_result") == "present", 10)
        check(ok, "... whose answer and verification record come back")
    finally:
        peer.close()
        desk.stop()


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="so_desk_api_") as tmp:
        with desk_with_peer(binary, tmp) as (desk, peer):
            access_cases(desk)
            ep1, ep2 = two_episodes()
            queue_cases(desk, peer, ep1, ep2)
            action_cases(desk, peer, ep1, ep2)
            autoclose_cases(desk, peer, ep1)
            offline_cases(desk, tmp)
            garbage_cases(desk, peer, ep1)
            stats_cases(desk)
        curve_cases(binary, tmp)
        migration_cases(binary, tmp, desk.db)
        migration_cases(binary, tmp, desk.db, "old2.db", ("--no-auto-close",), ["new"] * 3)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
