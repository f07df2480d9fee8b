#!/usr/bin/python3
"""Tests of scripts/eval, the scorer of the "Evaluation (contract)" in ARCHITECTURE.md.

Why this file exists: every end-to-end quality gate trusts scripts/eval's figures, so its
matching rules (kind + zone, start within tolerance, one-to-one, end conditions) are pinned
down here with hand-made truth and event records, without running the detector.

Runs under pytest (test_* functions), or as a plain script that prints TAP
("ok N - name" / "not ok N - name", plan "1..N") and exits 1 on any failure.
"""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL = os.path.join(HERE, "..", "..", "scripts", "eval")


def _load_eval():
    loader = importlib.machinery.SourceFileLoader("so_eval", EVAL)
    spec = importlib.util.spec_from_loader("so_eval", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


ev = _load_eval()


def truth(*events, tol=5):
    return {"clip": "t.mp4", "config": "t.yaml", "tolerance_s": tol,
            "events": [dict(kind=k, zone=z, start=s, end=e) for k, z, s, e in events]}


def episode(eid, kind, zone, start, end=None, updates=1):
    """Records of one episode: opened, some updates, and cleared when end is given."""
    base = {"schema": "streetorder.event.v1", "episode_id": eid, "kind": kind, "zone_id": zone,
            "media_start_s": start, "media_confirmed_s": start + 10, "media_end_s": None}
    recs = [dict(base, state="opened", event_id=f"{eid}-o")]
    recs += [dict(base, state="update", event_id=f"{eid}-u{k}") for k in range(updates)]
    if end is not None:
        recs.append(dict(base, state="cleared", reason="left", media_end_s=end,
                         event_id=f"{eid}-c"))
    return recs


def test_perfect_match():
    r = ev.score(truth(("illegal_parking", "bay-1", 12.0, 70.0),
                       ("sidewalk_occupied", "walk-1", 25.0, None)),
                 episode("e1", "illegal_parking", "bay-1", 13.1, 69.0)
                 + episode("e2", "sidewalk_occupied", "walk-1", 24.2))
    assert (r["truth"], r["opened"], r["tp"], r["fp"], r["fn"]) == (2, 2, 2, 0, 0), r
    assert r["precision"] == 1.0 and r["recall"] == 1.0
    assert abs(r["max_start_err"] - 1.1) < 1e-9 and abs(r["max_end_err"] - 1.0) < 1e-9
    assert r["mismatches"] == [] and r["notes"] == []
    assert ev.passes(r)


def test_start_outside_tolerance():
    r = ev.score(truth(("illegal_parking", "bay-1", 12.0, 70.0)),
                 episode("e1", "illegal_parking", "bay-1", 17.5, 70.0))
    assert (r["tp"], r["fp"], r["fn"]) == (0, 1, 1), r
    assert r["precision"] == 0.0 and r["recall"] == 0.0
    assert r["max_start_err"] is None and r["max_end_err"] is None
    assert any(m.startswith("FP illegal_parking bay-1 start 17.5") and "no truth event within 5"
               in m for m in r["mismatches"]), r["mismatches"]
    assert any(m.startswith("FN illegal_parking bay-1 start 12.0") for m in r["mismatches"])
    assert not ev.passes(r)


def test_missing_cleared_when_end_expected():
    r = ev.score(truth(("stall_encroachment", "front-1", 40.0, 90.0)),
                 episode("e1", "stall_encroachment", "front-1", 41.0))
    assert (r["opened"], r["matched"], r["tp"], r["fp"], r["fn"]) == (1, 1, 0, 0, 1), r
    assert r["precision"] == 1.0 and r["recall"] == 0.0
    assert r["max_end_err"] is None
    assert any("never cleared" in m for m in r["mismatches"]), r["mismatches"]
    assert not ev.passes(r)


def test_end_outside_tolerance():
    r = ev.score(truth(("stall_encroachment", "front-1", 40.0, 90.0)),
                 episode("e1", "stall_encroachment", "front-1", 41.0, 101.0))
    assert (r["tp"], r["fp"], r["fn"]) == (0, 0, 1), r
    assert abs(r["max_end_err"] - 11.0) < 1e-9
    assert any("+11.0 s off" in m for m in r["mismatches"]), r["mismatches"]


def test_cleared_when_end_null():
    r = ev.score(truth(("sidewalk_occupied", "walk-1", 25.0, None)),
                 episode("e1", "sidewalk_occupied", "walk-1", 26.0, 60.0))
    assert (r["tp"], r["fp"], r["fn"]) == (0, 0, 1), r
    assert r["recall"] == 0.0
    assert any("still there" in m for m in r["mismatches"]), r["mismatches"]
    assert not ev.passes(r)


def test_two_truth_events_one_to_one():
    # two cars parked side by side in one zone, both from the first frame; three episodes
    # opened: two must match, one each, and the third is a false positive
    t = truth(("illegal_parking", "z1", 0.0, None), ("illegal_parking", "z1", 0.0, None))
    r = ev.score(t, episode("a", "illegal_parking", "z1", 0.0)
                 + episode("b", "illegal_parking", "z1", 0.4))
    assert (r["tp"], r["fp"], r["fn"]) == (2, 0, 0), r
    assert sorted(p["episode_id"] for p in r["pairs"]) == ["a", "b"]
    r = ev.score(t, episode("a", "illegal_parking", "z1", 0.0)
                 + episode("b", "illegal_parking", "z1", 0.4)
                 + episode("c", "illegal_parking", "z1", 2.0))
    assert (r["tp"], r["fp"], r["fn"]) == (2, 1, 0), r
    assert abs(r["precision"] - 2 / 3) < 1e-9
    assert any(m.startswith("FP") and "episode c" in m and "already matched" in m
               for m in r["mismatches"]), r["mismatches"]
    # one episode cannot satisfy two truth events
    r = ev.score(t, episode("a", "illegal_parking", "z1", 0.0))
    assert (r["tp"], r["fp"], r["fn"]) == (1, 0, 1), r


def test_closest_first():
    # truth at 10 and 16; episodes at 14 and 11: 11->10 and 14->16, not 14->10
    t = truth(("illegal_parking", "z1", 10.0, None), ("illegal_parking", "z1", 16.0, None))
    r = ev.score(t, episode("late", "illegal_parking", "z1", 14.0)
                 + episode("early", "illegal_parking", "z1", 11.0))
    assert (r["tp"], r["fp"], r["fn"]) == (2, 0, 0), r
    assert {p["truth"]: p["episode_id"] for p in r["pairs"]} == {0: "early", 1: "late"}


def test_false_clear_split_episode():
    # the car stays 30-200; the detector clears it at 46 ("left") and opens it again with the
    # same start: the second episode matches (its end is right), the first is an FP and a
    # false clear, and the clip fails --strict
    r = ev.score(truth(("illegal_parking", "z1", 30.0, 200.0)),
                 episode("a", "illegal_parking", "z1", 30.5, 46.0)
                 + episode("b", "illegal_parking", "z1", 30.5, 199.0))
    assert (r["tp"], r["fp"], r["fn"], r["false_clears"]) == (1, 1, 0, 1), r
    assert any(m.startswith("FALSE-CLEAR") for m in r["mismatches"]), r["mismatches"]
    assert not ev.passes(r)


def test_false_clear_judged_on_the_matched_event():
    # cars A (8-75) and B (24-, stays) in one zone: A's episode clearing at 75.5 is right,
    # although B is still there; B's episode clearing at 50 is a false clear
    t = truth(("illegal_parking", "z1", 8.0, 75.0), ("illegal_parking", "z1", 24.0, None))
    r = ev.score(t, episode("a", "illegal_parking", "z1", 8.5, 75.5)
                 + episode("b", "illegal_parking", "z1", 24.5))
    assert (r["tp"], r["fp"], r["fn"], r["false_clears"]) == (2, 0, 0, 0), r
    assert ev.passes(r)
    r = ev.score(t, episode("a", "illegal_parking", "z1", 8.5, 75.5)
                 + episode("b", "illegal_parking", "z1", 24.5, 50.0))
    assert r["false_clears"] == 1, r
    assert any(m.startswith("FALSE-CLEAR") and "episode b" in m for m in r["mismatches"]), r


def test_false_clear_when_end_null_and_not_for_other_reasons():
    recs = episode("a", "sidewalk_occupied", "w", 10.0, 50.0)
    r = ev.score(truth(("sidewalk_occupied", "w", 10.0, None)), recs)
    assert r["false_clears"] == 1, r
    recs[-1]["reason"] = "view_changed"    # not a claim that the place is empty
    r = ev.score(truth(("sidewalk_occupied", "w", 10.0, None)), recs)
    assert r["false_clears"] == 0, r
    r = ev.score(truth(("sidewalk_occupied", "w", 10.0, 52.0)),
                 episode("a", "sidewalk_occupied", "w", 10.0, 50.0))
    assert r["false_clears"] == 0 and r["tp"] == 1, r   # within the tolerance of the end


def test_empty_truth_no_events():
    r = ev.score(truth(), [])
    assert (r["truth"], r["opened"], r["tp"], r["fp"], r["fn"]) == (0, 0, 0, 0, 0), r
    assert r["precision"] == 1.0 and r["recall"] == 1.0
    assert r["max_start_err"] is None and r["max_end_err"] is None
    assert ev.passes(r)


def test_empty_truth_with_event():
    r = ev.score(truth(), episode("e1", "illegal_parking", "bay-1", 15.0, 30.0))
    assert (r["fp"], r["precision"], r["recall"]) == (1, 0.0, 1.0), r
    assert not ev.passes(r)


def test_wrong_zone():
    r = ev.score(truth(("illegal_parking", "bay-1", 12.0, 70.0)),
                 episode("e1", "illegal_parking", "bay-2", 12.0, 70.0))
    assert (r["tp"], r["fp"], r["fn"]) == (0, 1, 1), r
    assert any(m.startswith("FN") and "no illegal_parking episode opened in zone bay-1" in m
               for m in r["mismatches"]), r["mismatches"]


def test_wrong_kind():
    r = ev.score(truth(("stall_encroachment", "front-1", 40.0, None)),
                 episode("e1", "sidewalk_occupied", "front-1", 40.0))
    assert (r["tp"], r["fp"], r["fn"]) == (0, 1, 1), r


def test_health_and_odd_records():
    recs = ([{"schema": "streetorder.health.v1", "camera_id": "c", "state": "blind"}]
            + episode("e1", "illegal_parking", "bay-1", 12.0, 70.0)
            + [{"schema": "streetorder.event.v1", "episode_id": "zz", "state": "cleared",
                "kind": "illegal_parking", "zone_id": "bay-1", "media_end_s": 3.0}])
    r = ev.score(truth(("illegal_parking", "bay-1", 12.0, 70.0)), recs)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 0, 0), r
    assert len(r["notes"]) == 1 and "zz" in r["notes"][0], r["notes"]


def test_score_does_not_modify_truth():
    t = truth(("illegal_parking", 7, 12.0, 70.0))
    ev.score(t, [])
    assert t["events"][0]["zone"] == 7


def test_cli_events_file_and_strict():
    with tempfile.TemporaryDirectory() as d:
        tp = os.path.join(d, "c.truth.yaml")
        with open(tp, "w") as f:
            f.write("clip: c.mp4\nconfig: c.yaml\ntolerance_s: 5\nevents:\n"
                    "  - {kind: illegal_parking, zone: bay-1, start: 12.0, end: 70.0}\n")
        good, bad = os.path.join(d, "good.jsonl"), os.path.join(d, "bad.jsonl")
        with open(good, "w") as f:
            for rec in episode("e1", "illegal_parking", "bay-1", 12.5, 71.0):
                f.write(json.dumps(rec) + "\n")
        with open(bad, "w") as f:
            for rec in episode("e1", "illegal_parking", "bay-1", 30.0, 71.0):
                f.write(json.dumps(rec) + "\n")

        def run(*args):
            return subprocess.run([sys.executable, EVAL, *args], capture_output=True, text=True)

        p = run("--strict", "--json", "--events", good, tp)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "TOTAL" in p.stdout
        js = json.loads(p.stdout[p.stdout.index("{"):])
        assert js["total"]["recall"] == 1.0 and js["clips"][0]["tp"] == 1
        p = run("--strict", "--events", bad, tp)
        assert p.returncode == 1, p.stdout + p.stderr
        assert "FP illegal_parking bay-1 start 30.0" in p.stdout
        p = run("--events", bad, tp)
        assert p.returncode == 0, p.stdout + p.stderr
        p = run("--events", good, tp, tp)                 # --events with two truth files
        assert p.returncode == 2, p.stdout + p.stderr
        p = run("--bin", os.path.join(d, "no-such-binary"), tp)
        assert p.returncode == 2 and "not found" in p.stderr, p.stdout + p.stderr


def _main():
    tests = [(n, f) for n, f in list(globals().items())  # definition order
             if n.startswith("test_") and callable(f)]
    print(f"1..{len(tests)}")
    failed = 0
    for k, (name, fn) in enumerate(tests, 1):
        try:
            fn()
            print(f"ok {k} - {name}")
        except Exception:
            failed += 1
            print(f"not ok {k} - {name}")
            for line in traceback.format_exc().rstrip().splitlines():
                print(f"# {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_main())
