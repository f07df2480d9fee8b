#!/usr/bin/python3
"""Print, one per line, every truth file under $STREETORDER_ASSETS/clips (default
../shared/assets beside the source tree), relative to that folder, sorted. Used by meson at
configure time so that a clip added to the shared assets is scored without editing the build
(issue 3: every shared clip with a truth file). Prints nothing when the assets are missing.

--slow: only the clips whose zones are all slow rules (dwell_s of 30 s or more), the cameras
`decode: keyframes` is meant for (issue 6)."""
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
assets = os.environ.get("STREETORDER_ASSETS") or os.path.join(root, "..", "shared", "assets")
clips = os.path.join(assets, "clips")
found = []
for folder, _, names in os.walk(clips):
    for name in names:
        if name.endswith(".truth.yaml"):
            found.append(os.path.relpath(os.path.join(folder, name), clips))
if "--slow" in sys.argv[1:]:
    import yaml

    def slow(rel):
        truth_path = os.path.join(clips, rel)
        truth = yaml.safe_load(open(truth_path))
        cfg = yaml.safe_load(open(os.path.join(os.path.dirname(truth_path), truth["config"])))
        zones = [z for cam in cfg["cameras"] for z in cam.get("zones", [])]
        return bool(zones) and all(z.get("dwell_s", 0) >= 30 for z in zones)
    found = [p for p in found if slow(p)]
sys.stdout.write("".join(p + "\n" for p in sorted(found)))
