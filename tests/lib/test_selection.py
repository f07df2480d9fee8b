#!/usr/bin/python3
"""The suite's selection logic without the shared assets: every test skips or runs, none fails.

Why this file exists: a new user clones the project alone (no ../shared beside it) and runs the
README's test command. Every test that needs the assets or a model's weights must then skip
(exit 77, or under meson's TAP protocol TAP's own "# SKIP" with exit 0: meson takes exit 77
of a TAP test for an error), and fail only when CI is set (ARCHITECTURE, Assets). The model
tests once exited 1 there because the weights were looked up by the daemon, after the test had
decided to run. This check runs each test's selection as meson would run the test (the command
and environment from BUILD/meson-info/intro-tests.json), with STREETORDER_ASSETS pointing
nowhere, no models at hand, no fetching, CI unset:
  * the end-to-end runners (run_truth.py) with SOTEST_NEEDS_ONLY set, so they stop right after
    deciding (sotest.needs_met): each must skip, or say "needs met" when it needs no asset;
  * the unit tests (C, quick) in full: each must pass or skip (netpool and xnnpack once exited
    77 under the TAP protocol, which meson counts as an error: 4 failures in a new clone).

Usage: test_selection.py BUILD_DIR   (meson passes its build folder)
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotest import check, diag, finish  # noqa: E402


def main(argv):
    build = argv[1]
    with open(os.path.join(build, "meson-info", "intro-tests.json")) as f:
        tests = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items()
               if k not in ("CI", "STREETORDER_MODELS", "STREETORDER_ASSETS")}
        env.update(STREETORDER_ASSETS=os.path.join(tmp, "no-assets"),
                   XDG_DATA_HOME=os.path.join(tmp, "data"), HOME=tmp, SOTEST_NO_FETCH="1")
        runners = units = 0
        for t in tests:
            suites = [s.split(":")[-1] for s in t["suite"]]
            e2e = any(os.path.basename(c) == "run_truth.py" for c in t["cmd"])
            if not e2e and "unit" not in suites:
                continue
            run_env = dict(env, **t.get("env", {}))
            if e2e:
                run_env["SOTEST_NEEDS_ONLY"] = "1"
                runners += 1
            else:
                units += 1
            try:
                r = subprocess.run(t["cmd"], env=run_env, cwd=t.get("workdir") or build,
                                   capture_output=True, text=True, timeout=120)
            except subprocess.TimeoutExpired:
                check(False, f"{t['name']}: still running after 120 s without the assets")
                continue
            # Exit 77 is a skip only for meson's exitcode protocol: under its TAP protocol
            # (the unit tests) meson takes it for an error, and a skip is TAP's "# SKIP".
            tap = t.get("protocol") == "tap"
            skipped = (r.returncode == 77 and not tap) or \
                (r.returncode == 0 and "# SKIP" in r.stdout)
            if e2e:
                ok = skipped or (r.returncode == 0 and "sotest: needs met" in r.stdout)
            else:
                ok = skipped or r.returncode == 0
            what = "skips" if skipped else ("runs" if ok else f"exits {r.returncode}")
            check(ok, f"{t['name']} without the assets: {what}")
            if not ok:
                diag(r.stdout + r.stderr)
        check(runners > 0 and units > 0,
              f"found the end-to-end runners ({runners}) and unit tests ({units})")
    return finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
