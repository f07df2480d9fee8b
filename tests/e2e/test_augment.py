#!/usr/bin/python3
"""scripts/augment makes the same file whatever the heap holds: x264's macroblock-tree rate
control reads memory it has not written, and `meson test` sets a random MALLOC_PERTURB_ for
every test, so the accuracy table's corpus changed from one CI run to the next until augment
encoded with mbtree=0. Here: the first 6 s of the shared parked_row clip, shaken, under two
MALLOC_PERTURB_ values (ffmpeg and x264 inherit it): the same bytes, and the truth carried over.

Usage: test_augment.py     (TAP)
"""
import hashlib
import os
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from sotest import ROOT, asset, check, finish  # noqa: E402


def main():
    truth = asset("clips/augmented/parked_row.truth.yaml")
    folder = os.path.dirname(truth)
    t = yaml.safe_load(open(truth))
    cfg = yaml.safe_load(open(os.path.join(folder, t["config"])))
    src = os.path.join(folder, cfg["cameras"][0]["url"])
    with tempfile.TemporaryDirectory() as tmp:
        clip = os.path.join(tmp, "short.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", src, "-t", "6", "-an", "-c:v",
                        "libx264", "-threads", "1", "-x264-params", "mbtree=0", "-crf", "18",
                        clip], check=True)
        cfg["cameras"][0]["url"] = "short.mp4"
        with open(os.path.join(tmp, "short.yaml"), "w") as f:
            yaml.safe_dump(cfg, f)
        t.update(clip="short.mp4", config="short.yaml")
        with open(os.path.join(tmp, "short.truth.yaml"), "w") as f:
            yaml.safe_dump(t, f)
        digests = []
        for perturb in ("13", "200"):
            out = os.path.join(tmp, "out" + perturb)
            env = dict(os.environ, MALLOC_PERTURB_=perturb)
            r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "augment"),
                                "--out", out, os.path.join(tmp, "short.truth.yaml"), "shake"],
                               env=env, capture_output=True, text=True)
            check(r.returncode == 0, f"augment runs under MALLOC_PERTURB_={perturb} "
                  f"({r.stderr.strip()[-200:]})")
            made = os.path.join(out, "short~shake.mp4")
            digests.append(hashlib.sha256(open(made, "rb").read()).hexdigest()
                           if os.path.exists(made) else None)
            carried = yaml.safe_load(open(os.path.join(out, "short~shake.truth.yaml")))
            check(carried["events"] == t["events"] and carried["clip"] == "short~shake.mp4",
                  "the truth is carried over to the variant")
        check(digests[0] is not None and digests[0] == digests[1],
              f"the same variant file under both heaps ({[d and d[:12] for d in digests]})")
    finish()


if __name__ == "__main__":
    main()
