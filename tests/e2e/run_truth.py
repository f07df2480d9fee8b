#!/usr/bin/python3
"""End-to-end: run the real detector on one clip with a truth file and score it strictly.

Usage: run_truth.py [--model NAME] BIN TRUTH.yaml            (a clip of the shared assets)
       run_truth.py [--model NAME] BIN --scene NAME OUTDIR   (a scene from scripts/gen-scene)

--model runs the clip with that object detector configured (detector.model), whatever the
clip's own config says.

Shared clips come from $STREETORDER_ASSETS (default ../shared/assets beside the source tree);
when they are missing the test is skipped (exit 77) unless CI is set, where it fails.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def assets_dir():
    return os.environ.get("STREETORDER_ASSETS") or os.path.join(ROOT, "..", "shared", "assets")


def main(argv):
    model = None
    if "--model" in argv:
        i = argv.index("--model")
        model = argv[i + 1]
        del argv[i:i + 2]
    binary = argv[1]
    if argv[2] == "--scene":
        name, out = argv[3], argv[4]
        truth = os.path.join(out, name, name + ".truth.yaml")
        if not os.path.exists(truth):   # scenes are deterministic: generate once per build
            subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "gen-scene"), name,
                            "--out", out], check=True)
    else:
        truth = os.path.join(assets_dir(), "clips", argv[2])
        if not os.path.exists(truth):
            if os.environ.get("CI"):
                print(f"assets missing: {truth} (CI is set)")
                return 1
            print(f"skip: assets missing: {truth}")
            return 77
    # Run the real binary once, score its events, and validate every record against the
    # published schema (config/event.schema.json).
    import tempfile
    import jsonschema
    import yaml
    folder = os.path.dirname(truth)
    config = os.path.join(folder, yaml.safe_load(open(truth))["config"])
    with tempfile.TemporaryDirectory() as tmp:
        events = os.path.join(tmp, "events.jsonl")
        cfg = yaml.safe_load(open(config))
        for cam in cfg["cameras"]:
            if "://" not in cam["url"] and not os.path.isabs(cam["url"]):
                cam["url"] = os.path.join(folder, cam["url"])
        cfg.setdefault("detector", {})["state_dir"] = os.path.join(tmp, "state")
        if model:
            cfg["detector"]["model"] = model
        run_cfg = os.path.join(tmp, "config.yaml")
        yaml.safe_dump(cfg, open(run_cfg, "w"), allow_unicode=True)
        r = subprocess.run([binary, "run", "-c", run_cfg, "--fast", "--quiet", "--events", events])
        if r.returncode != 0:
            print(f"detector exited {r.returncode}")
            return 1
        schema = json.load(open(os.path.join(ROOT, "config", "event.schema.json")))
        bad = 0
        for n, line in enumerate(open(events), 1):
            try:
                jsonschema.validate(json.loads(line), schema)
            except (ValueError, jsonschema.ValidationError) as e:
                print(f"events line {n} does not match the schema: {e}")
                bad += 1
        r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "eval"), "--strict",
                            "--events", events, truth])
        return 1 if bad else r.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
