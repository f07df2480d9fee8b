#!/usr/bin/python3
"""End-to-end: run the real detector on one clip with a truth file and score it strictly.

Usage: run_truth.py [--model NAME] [--from S] [--keyframes G] [--camera WIDTH] BIN TRUTH.yaml
       (a shared clip)
       run_truth.py [--model NAME] BIN --scene NAME OUTDIR     (a scene from scripts/gen-scene)

--model runs the clip with that object detector configured (detector.model), whatever the
clip's own config says.

--from S starts the clip S seconds in (re-encoded from there with ffmpeg): what was already in
place then is in the first frame, as after a restart of the detector beside a live camera. The
truth is shifted to match: an event under way at S starts at 0 (ARCHITECTURE: an object present
in the first analysed frame started at that frame's time); events over before S are dropped.

--keyframes G re-encodes the clip the way an IP camera sends it (25 fps, a key frame every G
seconds, no B-frames) and runs it with `decode: keyframes`; the tolerance grows by G (issue 6:
every episode within the tolerance plus one GOP).

--camera W re-encodes the clip as a camera's main stream W pixels wide (25 fps, GOP 50, no
B-frames, ~4 Mbit/s): at 1920 px the analysis (640 px wide) decodes without the H.264 loop
filter (source.c), and every episode must still be found as at the clip's own size.

A truth file may list `health: [moved, live]`: the camera health changes an operator must see
after the first `live`, checked on the PUB feed (outputs.publish, a free local port), each
record against config/health.schema.json.

Shared clips come from $STREETORDER_ASSETS (default ../shared/assets beside the source tree);
when they are missing the test is skipped (exit 77) unless CI is set, where it fails. The same
holds for --model's weights (sotest.need_model: the shared assets, $STREETORDER_MODELS, or
fetched by scripts/fetch-models when the network allows).
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from sotest import (ROOT, Feed, asset, free_port, load_config, need_model, needs_met,  # noqa: E402
                    scene, write_config)


class HealthFeed:
    """Subscribes to the detector's PUB feed (set in cfg) before the run, collects the health
    records, and compares their changes with the truth's `health` list."""

    def __init__(self, cfg):
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        cfg.setdefault("outputs", {})["publish"] = endpoint
        self.camera = cfg["cameras"][0]["id"]
        self.feed = Feed(endpoint, topic=b"health.", settle=0.3)

    def check(self, want):
        import jsonschema
        self.feed.close(after=0.5)
        schema = json.load(open(os.path.join(ROOT, "config", "health.schema.json")))
        seen = []
        for _, topic, _, (_, body, *_) in self.feed.messages:
            rec = json.loads(body)
            jsonschema.validate(rec, schema)
            if topic != f"health.{self.camera}":
                continue
            if not seen or seen[-1][0] != rec["health"]:
                seen.append((rec["health"], rec.get("detail")))
        while seen and seen[0][0] == "live":    # the start: what follows is the scene's
            seen.pop(0)
        for h, detail in seen:
            print(f"health {h}: {detail}")
        got = [h for h, _ in seen]
        if got != list(want):
            print(f"health changes {got}, want {list(want)}")
            return False
        if not all(detail for h, detail in seen if h != "live"):
            print("a moved/tampered/blind health record without a reason (detail)")
            return False
        return True


def reencode(truth_path, cfg, tmp, start=0.0, gop_s=None, width=None):
    """Re-encode the camera's clip into tmp, from `start` (--from) and/or as a camera sends it
    (--keyframes: 25 fps, a key frame every gop_s, no B-frames; --camera: a main stream `width`
    pixels wide, 25 fps, GOP 50, no B-frames, ~4 Mbit/s), and write the matching truth there;
    returns the new truth's path."""
    import yaml
    truth = yaml.safe_load(open(truth_path))
    cam = cfg["cameras"][0]
    clip = os.path.join(tmp, "reencoded.mp4")
    enc = ["-c:v", "libx264", "-threads", "1", "-preset", "veryfast", "-crf", "18"]
    if width:
        enc = ["-vf", f"fps=25,scale={width}:-2:flags=bicubic", "-c:v", "libx264",
               "-threads", "1", "-preset", "veryfast", "-bf", "0", "-g", "50", "-keyint_min", "50",
               "-sc_threshold", "0",
               "-b:v", "4000k", "-maxrate", "4000k", "-bufsize", "8000k"]
    if gop_s:
        gop = str(int(round(gop_s * 25)))
        enc = ["-vf", "fps=25"] + enc + ["-bf", "0", "-g", gop, "-keyint_min", gop,
                                         "-sc_threshold", "0"]
        cam["decode"] = "keyframes"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-ss", str(start), "-i", cam["url"],
                    "-an"] + enc + [clip], check=True)
    cam["url"] = clip
    tol = truth.get("tolerance_s", 5)
    if gop_s:   # issue 6: every episode within the tolerance plus one GOP
        truth["tolerance_s"] = tol + gop_s
    events = []
    for ev in truth["events"]:
        if ev.get("end") is not None and ev["end"] <= start + tol:
            continue
        ev = dict(ev)
        ev["start"] = max(0.0, round(ev["start"] - start, 3))
        if ev.get("end") is not None:
            ev["end"] = round(ev["end"] - start, 3)
        events.append(ev)
    truth["events"] = events
    truth["clip"] = "reencoded.mp4"
    path = os.path.join(tmp, "reencoded.truth.yaml")
    yaml.safe_dump(truth, open(path, "w"))
    print(f"clip from {start} s" + (f", key frames only, GOP {gop_s} s" if gop_s else "") +
          (f", camera main stream {width} px wide" if width else "") +
          f"; tolerance {truth['tolerance_s'] if 'tolerance_s' in truth else tol} s; "
          f"truth: {events}")
    return path


def take_option(argv, name, convert):
    """Remove `name VALUE` from argv; returns convert(VALUE), or None when absent."""
    if name not in argv:
        return None
    i = argv.index(name)
    value = convert(argv[i + 1])
    del argv[i:i + 2]
    return value


def main(argv):
    model = take_option(argv, "--model", str)
    start_from = take_option(argv, "--from", float)
    gop_s = take_option(argv, "--keyframes", float)
    width = take_option(argv, "--camera", int)
    binary = argv[1]
    if model:
        need_model(model, tap=False)
    if argv[2] != "--scene":
        truth = asset(os.path.join("clips", argv[2]), tap=False)
    needs_met(binary, model)
    if argv[2] == "--scene":
        name, out = argv[3], argv[4]
        # scenes are deterministic: generated once per build
        truth = os.path.join(scene(out, name, quiet=False), name + ".truth.yaml")
    # Run the real binary once, score its events, and validate every record against the
    # published schema (config/event.schema.json).
    import tempfile
    import jsonschema
    import yaml
    folder = os.path.dirname(truth)
    config = os.path.join(folder, yaml.safe_load(open(truth))["config"])
    with tempfile.TemporaryDirectory() as tmp:
        events = os.path.join(tmp, "events.jsonl")
        cfg = load_config(config)
        if start_from is not None or gop_s or width:
            truth = reencode(truth, cfg, tmp, start_from or 0.0, gop_s, width)
        cfg.setdefault("detector", {})["state_dir"] = os.path.join(tmp, "state")
        if model:
            cfg["detector"]["model"] = model
        want_health = yaml.safe_load(open(truth)).get("health")
        feed = HealthFeed(cfg) if want_health is not None else None
        run_cfg = write_config(os.path.join(tmp, "config.yaml"), cfg)
        r = subprocess.run([binary, "run", "-c", run_cfg, "--fast", "--quiet", "--events", events])
        if feed and not feed.check(want_health):
            return 1
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
