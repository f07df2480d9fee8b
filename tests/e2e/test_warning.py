#!/usr/bin/python3
"""End-to-end: warn before filing (issue 16 item 3, a zone's warn_s) on a shared clip, with the
real detector, a real ZeroMQ subscriber on its PUB feed and a real streetorder-intake receiving
its deliveries.

Cases (one per meson test):
- park_long: a car parks for ~165 s in a zone with dwell_s 60 and warn_s 20. One `warning`
  (topic warning.illegal_parking.<camera>, evidence role "warning", at ~warn_s of rest), then the
  `opened` of the same episode_id saying when it was warned (media_warned_s, warned_at), no
  `warning_cleared`; the episode's start, confirmation and end are exactly those of a run
  without warn_s (warning changes no case), and the truth still scores strictly.
- stop_short: a car stops 28.5 s (41.2..69.7 s) in a zone with dwell_s 60; with warn_s 15 it
  gets a `warning`, then a `warning_cleared` (reason left, ended when it drove off) and no
  case at all; the taxi that passes later gets nothing.
In both: every record matches config/event.schema.json; the PUB feed carries each record on
its topic with its JPEGs; the intake stored every record (warnings included) once.

Usage: test_warning.py BIN INTAKE CASE[-model]     (TAP; -model: with the object detector
       yolo-fastest-1.1-xl, vehicles followed as tracks rather than static blobs)
"""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from sotest import ROOT, Feed, asset, check, finish, free_port, load_config  # noqa: E402
from sotest import need_model, note, read_jsonl, write_config  # noqa: E402

TOL = 5.0   # the clips' scoring tolerance (s)
MODEL = "yolo-fastest-1.1-xl"

CASES = {
    # truth: (media s) when the car came to rest and when it left, from the clip's truth file
    "park_long": {"truth": "clips/augmented/park_long.truth.yaml", "warn_s": 20,
                  "rest": 33.8, "left": 199.1, "opens": True},
    "stop_short": {"truth": "clips/augmented/stop_short.truth.yaml", "warn_s": 15,
                   "rest": 41.2, "left": 69.7, "opens": False},
}


def run(binary, intake, cfg, tmp, name, warn_s, model):
    """Run the clip with zone z1's warn_s (None: absent), delivering to a fresh intake and
    publishing to a subscriber; returns (exit status, records, PUB messages, intake rows)."""
    work = os.path.join(tmp, name)
    os.makedirs(work)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    sock = "ipc://" + os.path.join(work, "intake.sock")
    db = os.path.join(work, "intake.sqlite")
    zone = cfg["cameras"][0]["zones"][0]
    zone.pop("warn_s", None)
    if warn_s is not None:
        zone["warn_s"] = warn_s
    cfg["detector"] = {"id": "warn-e2e", "state_dir": os.path.join(work, "state")}
    if model:
        cfg["detector"]["model"] = model
    cfg["outputs"] = {"publish": endpoint,
                      "deliver": {"endpoint": sock, "drain_s": 15, "resend_s": 1}}
    path = write_config(os.path.join(work, "config.yaml"), cfg)
    events = os.path.join(work, "events.jsonl")
    with open(os.path.join(work, "intake.log"), "w") as log:
        ik = subprocess.Popen([intake, "--bind", sock, "--db", db], stdout=log,
                              stderr=subprocess.STDOUT)
    feed = Feed(endpoint, settle=0.5)
    try:
        r = subprocess.run([binary, "run", "-c", path, "--fast", "--quiet", "--events", events],
                           capture_output=True, text=True)
    finally:
        feed.close(after=0.5)
        ik.terminate()
        ik.wait(10)
    if r.returncode != 0:
        note(r.stderr[-3000:])
    con = sqlite3.connect(db)
    rows = con.execute("SELECT event_id, state, json FROM events ORDER BY id").fetchall()
    n_images = con.execute("SELECT count(*) FROM evidence").fetchone()[0]
    con.close()
    return r.returncode, read_jsonl(events, partial=False), feed.snapshot(), rows, n_images


def check_records(recs, pub, rows, n_images, schema, label):
    """Schema, PUB topics and JPEG parts, intake rows: the same for every case."""
    bad = []
    for rec in recs:
        try:
            jsonschema.validate(rec, schema)
        except jsonschema.ValidationError as e:
            bad.append(f"{rec['state']}: {e.message}")
    check(not bad, f"{label}: every record matches the event schema {bad[:2]}")
    by_id = {rec["event_id"]: rec for rec in recs}
    ok, carried = True, 0
    for _, topic, body, parts in pub:
        if not body or body.get("event_id") not in by_id:
            continue
        rec = by_id[body["event_id"]]
        carried += 1
        warning = rec["state"] in ("warning", "warning_cleared")
        want = f"{'warning' if warning else 'event'}.{rec['kind']}.{rec['camera_id']}"
        ok &= topic == want and len(parts) - 2 == len(rec["evidence"])
        for part, ev in zip(parts[2:], rec["evidence"]):
            ok &= len(part) == ev["size"] and hashlib.sha256(part).hexdigest() == ev["sha256"]
    check(ok and carried == len(recs),
          f"{label}: PUB carried each record on its topic with its JPEGs ({carried}/{len(recs)})")
    got = [(eid, state) for eid, state, _ in rows]
    check(got == [(r["event_id"], r["state"]) for r in recs] and
          n_images == sum(len(r["evidence"]) for r in recs),
          f"{label}: the intake stored every record once, in order, with its images "
          f"({len(got)} rows, {n_images} images)")


def episode_times(recs):
    """[(state, start, confirmed, end)] of the case records (opened, cleared), in order."""
    return [(r["state"], r["media_start_s"], r["media_confirmed_s"], r["media_end_s"])
            for r in recs if r["state"] in ("opened", "cleared")]


def main():
    binary, intake, case = sys.argv[1], sys.argv[2], sys.argv[3]
    model = MODEL if case.endswith("-model") else None
    c = CASES[case.removesuffix("-model")]
    truth = asset(c["truth"])
    if model:
        need_model(model)
    import yaml
    tr = yaml.safe_load(open(truth))
    config = os.path.join(os.path.dirname(truth), tr["config"])
    schema = json.load(open(os.path.join(ROOT, "config", "event.schema.json")))
    warn_s = c["warn_s"]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(config)
        dwell = cfg["cameras"][0]["zones"][0]["dwell_s"]
        rc, recs, pub, rows, n_images = run(binary, intake, cfg, tmp, "warn", warn_s, model)
        check(rc == 0, f"the detector ran the clip with warn_s {warn_s} (exit {rc})")
        states = [r["state"] for r in recs if r["state"] != "update"]
        note(f"records: {[(r['state'], r['media_start_s'], r['media_end_s']) for r in recs]}")
        check_records(recs, pub, rows, n_images, schema, f"warn_s {warn_s}")
        warnings = [r for r in recs if r["state"] == "warning"]
        w = warnings[0] if len(warnings) == 1 else None
        check(w is not None, f"one warning ({len(warnings)})")
        if not w:
            return finish()
        check(abs(w["media_start_s"] - c["rest"]) <= TOL,
              f"the warning is of the car at rest from {c['rest']} s "
              f"(media_start_s {w['media_start_s']})")
        check(warn_s - 0.5 <= w["dwell_s"] < dwell and
              abs(w["media_warned_s"] - w["media_start_s"] - w["dwell_s"]) < 1e-3,
              f"warned after warn_s {warn_s} of rest, before dwell_s {dwell} "
              f"(dwell_s {w['dwell_s']}, media_warned_s {w['media_warned_s']})")
        check(w["media_confirmed_s"] is None and w["confirmed_at"] is None and
              w["warned_at"] and [e["role"] for e in w["evidence"]] == ["warning"],
              "the warning: not confirmed, warned_at set, one image of role warning")
        if c["opens"]:
            check(states[:2] == ["warning", "opened"] and "warning_cleared" not in states,
                  f"warning, then opened, no warning_cleared ({states})")
            opened = [r for r in recs if r["state"] == "opened"]
            o = opened[0] if len(opened) == 1 else None
            check(o and o["episode_id"] == w["episode_id"] and o["seq"] > w["seq"] and
                  o["media_warned_s"] == w["media_warned_s"] and o["warned_at"] == w["warned_at"]
                  and o.get("warning_seq") == w["seq"],
                  "the opened is the warned episode (same episode_id, later seq, the "
                  "warning's media_warned_s and warned_at, warning_seq its seq)")
            # The same clip without warn_s: the very same case.
            rc0, recs0, _, _, _ = run(binary, intake, cfg, tmp, "plain", None, model)
            plain = episode_times(recs0)
            warned = episode_times(recs)
            check(rc0 == 0 and plain == warned and warned,
                  f"the case is the one a run without warn_s gives: {warned} vs {plain}")
            check(not any("warned_at" in r for r in recs0), "without warn_s nothing is warned")
        else:
            check(states == ["warning", "warning_cleared"],
                  f"warning then warning_cleared, no case ({states})")
            wc = [r for r in recs if r["state"] == "warning_cleared"]
            x = wc[0] if wc else None
            check(x and x["episode_id"] == w["episode_id"] and x["reason"] == "left" and
                  x["seq"] > w["seq"] and x["media_warned_s"] == w["media_warned_s"] and
                  x["media_start_s"] == w["media_start_s"] and x.get("warning_seq") == w["seq"],
                  "warning_cleared closes that warning (same episode_id and start, reason left)")
            check(x and abs(x["media_end_s"] - c["left"]) <= TOL and
                  x["media_end_s"] < x["media_start_s"] + dwell and
                  [e["role"] for e in x["evidence"]] == ["after"],
                  f"it ended when the car left at {c['left']} s, before dwell_s "
                  f"(media_end_s {x and x['media_end_s']}), with an after image")
        r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "eval"),
                            "--strict", "--events", os.path.join(tmp, "warn", "events.jsonl"),
                            truth], capture_output=True, text=True)
        check(r.returncode == 0, "the truth still scores strictly (scripts/eval --strict)")
        if r.returncode:
            note(r.stdout + r.stderr)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
