#!/usr/bin/python3
"""End-to-end checks of the run command's outputs on the generated demo scene, with a real
ZeroMQ subscriber:

- the PUB live feed carries [topic, json, jpeg...] for every event (topic event.<kind>.<camera>)
  and camera health on health.<camera> (live when frames flow), both matching the published
  JSON Schemas, and the same event_id as the --events file;
- the configured JSONL file (relative: under state_dir) holds the same records;
- evidence files exist with the size and sha256 the record gives;
- --events is created (and truncated) even when nothing fires;
- a zone whose schedule is not in force during the run never opens.

Usage: test_outputs.py BIN SCENES_DIR     (TAP output)
"""
import datetime
import hashlib
import json
import re
import os
import subprocess
import sys
import tempfile

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from sotest import ROOT, Feed, check, finish, free_port, load_config, write_config  # noqa: E402
from sotest import read_jsonl, scene as gen_scene  # noqa: E402


def scene(scenes):
    """The generated demo scene's folder (made once per build dir; test_evidence.py uses it)."""
    return gen_scene(scenes, "demo")


def main():
    binary, scenes = sys.argv[1], sys.argv[2]
    d = scene(scenes)
    ev_schema = json.load(open(os.path.join(ROOT, "config", "event.schema.json")))
    health_schema = json.load(open(os.path.join(ROOT, "config", "health.schema.json")))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(os.path.join(d, "demo.yaml"))
        cam = cfg["cameras"][0]
        # bay-1 is enforced only in a window that starts 3 h after now: it must never open.
        later = datetime.datetime.now() + datetime.timedelta(hours=3)
        end = later + datetime.timedelta(hours=1)
        window = f"daily {later:%H:%M}-{end:%H:%M}"
        for z in cam["zones"]:
            if z["id"] == "bay-1":
                z["schedule"] = [window]
        endpoint = f"tcp://127.0.0.1:{free_port()}"    # a plain socket's port: see free_port
        cfg["detector"] = {"id": "e2e", "state_dir": os.path.join(tmp, "state")}
        cfg["outputs"] = {"jsonl": "events.jsonl", "publish": endpoint}
        path = write_config(os.path.join(tmp, "demo.yaml"), cfg)

        # Paced in real time for the first seconds would be slow; --fast, but give the
        # subscriber time to connect first by starting it before the run (slow joiner).
        feed = Feed(endpoint, settle=0.5)
        events_path = os.path.join(tmp, "out.jsonl")
        r = subprocess.run([binary, "run", "-c", path, "--fast", "--events", events_path],
                           capture_output=True, text=True)
        feed.close(after=0.5)
        received = [parts for _, _, _, parts in feed.messages]
        check(r.returncode == 0, f"run exits 0 (got {r.returncode})")
        if r.returncode != 0:
            print("# " + r.stderr[-2000:].replace("\n", "\n# "))
        lines = read_jsonl(events_path, partial=False)
        check(len(lines) >= 4, f"events file has the demo's records ({len(lines)})")
        check(all(e["zone_id"] != "bay-1" for e in lines),
              f"bay-1 never opens outside its schedule ({window})")
        jsonl = os.path.join(tmp, "state", "events.jsonl")
        check(os.path.exists(jsonl) and read_jsonl(jsonl, partial=False) == lines,
              "configured JSONL (under state_dir) holds the same records")
        check(all(l["seq"] == i + 1 for i, l in enumerate(lines)), "seq runs 1, 2, 3...")
        events = [m for m in received if m[0].startswith(b"event.")]
        health = [m for m in received if m[0].startswith(b"health.")]
        check(len(events) == len(lines), f"PUB carried every event ({len(events)}/{len(lines)})")
        ok = True
        for m in events:
            rec = json.loads(m[1])
            jsonschema.validate(rec, ev_schema)
            ok &= m[0].decode() == f"event.{rec['kind']}.{rec['camera_id']}"
            ok &= len(m) - 2 == len(rec["evidence"])
            for part, ev in zip(m[2:], rec["evidence"]):
                ok &= len(part) == ev["size"] and hashlib.sha256(part).hexdigest() == ev["sha256"]
        check(ok, "PUB events: topic, schema, and the JPEG parts match size and sha256")
        check([json.loads(m[1])["event_id"] for m in events] == [e["event_id"] for e in lines],
              "PUB and --events carry the same event_ids in the same order")
        # media seconds to the millisecond: "14.749", never "14.749000000000001" (issue 17)
        raw = open(events_path).read() + "".join(m[1].decode() for m in events)
        times = re.findall(r'"media_(?:start|confirmed|end)_s":([0-9.eE+-]+)', raw)
        check(times and all(len(t.split(".")[-1]) <= 3 for t in times),
              f"media times printed to the millisecond in the file and on PUB ({times[:3]}...)")
        check(any(json.loads(m[1])["health"] == "live" for m in health),
              "health.<camera> says live")
        ok = True
        for m in health:
            rec = json.loads(m[1])
            jsonschema.validate(rec, health_schema)
            ok &= m[0].decode() == f"health.{rec['camera_id']}"
        check(ok and health, "health records match their schema and topic")
        evdir = os.path.join(tmp, "state", "evidence")
        ok = True
        for e in lines:
            for ev in e["evidence"]:
                data = open(os.path.join(evdir, ev["file"]), "rb").read()
                ok &= len(data) == ev["size"] and hashlib.sha256(data).hexdigest() == ev["sha256"]
        check(ok, "evidence files exist with the recorded size and sha256")
        opened = [e for e in lines if e["state"] == "opened"]
        check(all({"rest", "confirm"} <= {v["role"] for v in e["evidence"]} for e in opened),
              "opened events carry rest and confirm images")
        cleared = [e for e in lines if e["state"] == "cleared"]
        check(cleared and all([v["role"] for v in e["evidence"]] == ["after"] for e in cleared),
              "cleared events carry the after image")

        # --events is truncated at start even when nothing fires.
        open(events_path, "w").write("stale\n")
        cfg["cameras"][0]["zones"] = [z for z in cam["zones"] if z["id"] == "bay-1"]
        cfg["outputs"] = {}
        write_config(path, cfg)
        r = subprocess.run([binary, "run", "-c", path, "--fast", "--events", events_path],
                           capture_output=True, text=True)
        check(r.returncode == 0 and open(events_path).read() == "",
              "--events is created empty when nothing fires")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
