#!/usr/bin/python3
"""Print, one per line, every truth file under $STREETORDER_ASSETS/clips (default
../shared/assets beside the source tree), relative to that folder, sorted. Used by meson at
configure time so that a clip added to the shared assets is scored without editing the build
(issue 3: every shared clip with a truth file). Prints nothing when the assets are missing."""
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
sys.stdout.write("".join(p + "\n" for p in sorted(found)))
