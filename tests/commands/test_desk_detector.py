#!/usr/bin/python3
"""The case loop with both real ends (issue 16 items 1 and 2): the real detector delivering
to the real streetorder-intake with its desk, the desk's JSON API acting on the case.

Usage: test_desk_detector.py STREETORDER INTAKE WORKDIR

The demo scene cut to 65 s (bay-1's dwell shortened to 5 s) in real time: the parked car's
case appears; `verify` from the desk reaches the detector, whose `verification` record
(present, with its still) shows on the case; `reject` sends `dismiss`, the detector ends the
episode `dismissed`, the case is rejected, and the same car raises no new case for the rest
of the clip. Before that, a detector with nothing to deliver is known to the desk as connected
(its HELO). About 50 s. Exit 0 = pass (TAP).
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from detector_peer import DeskIntake  # noqa: E402
from sotest import Daemon, check, finish, free_port, load_config, wait_for  # noqa: E402
from test_commands import clip  # noqa: E402


def cases(desk, zone):
    status, body = desk.api("/api/cases")
    return [c for c in body["cases"] if c["zone_id"] == zone] if status == 200 else []


def case(desk, ep):
    status, body = desk.api(f"/api/cases/{ep}")
    return body if status == 200 else None


def loop(desk, d):
    found = wait_for(lambda: cases(desk, "bay-1"), 45)
    if not check(found, "the parked car's case is on the desk"):
        return
    ep = found[0]["episode_id"]
    status, _ = desk.api(f"/api/cases/{ep}/verify", method="POST", body={})
    check(status == 200, f"verify sent to the detector ({status})")
    c = wait_for(lambda: (case(desk, ep) or {}).get("verify_result") and case(desk, ep), 10)
    ver = [e for e in (c or {}).get("events", []) if e["state"] == "verification"]
    check(c and c["verify_result"] == "present" and ver and
          [i["role"] for i in ver[0]["images"]] == ["verification"],
          f"the verification is on the case: present, with its still ({c and c['verify_result']})")
    status, _ = desk.api(f"/api/cases/{ep}/reject", method="POST",
                         body={"reason": "false_alarm"})
    check(status == 200, f"reject sent as dismiss ({status})")
    c = wait_for(lambda: (case(desk, ep) or {}).get("end_reason") and case(desk, ep), 10)
    check(c and c["state"] == "rejected" and c["end_reason"] == "dismissed",
          f"the detector ended it dismissed; the case is rejected ({c and c['end_reason']})")
    check(d.wait_log("CPU seconds by stage", 60), "the clip ended")
    time.sleep(1)
    check(len(cases(desk, "bay-1")) == 1, "the same car raised no new case")


def bay_config(demo_yaml, video, detector_id, tmp, deliver):
    """The demo scene's camera on `video` with bay-1 only, its dwell shortened to 5 s, delivering
    as `deliver` (outputs.deliver) under `detector_id`, its state in TMP/state."""
    cam = load_config(demo_yaml)["cameras"][0]
    cam["url"] = video
    cam["zones"] = [z for z in cam["zones"] if z["id"] == "bay-1"]
    cam["zones"][0]["dwell_s"] = 5
    return {"detector": {"id": detector_id, "state_dir": os.path.join(tmp, "state")},
            "outputs": {"deliver": deliver}, "cameras": [cam]}


def quiet_detector(binary, desk, tmp):
    """A detector with nothing to deliver (its camera's RTSP URL is served by nobody) is known
    to the desk as connected all the same: it says HELO on connecting, so that commands (a
    permit for tomorrow's market) can reach it before it has any case."""
    cfg = {"detector": {"id": "det-quiet", "state_dir": os.path.join(tmp, "quiet-state")},
           "outputs": {"deliver": {"endpoint": desk.endpoint, "drain_s": 1}},
           "cameras": [{"id": "far", "url": f"rtsp://127.0.0.1:{free_port()}/nobody",
                        "zones": [{"id": "z", "kind": "illegal_parking", "dwell_s": 60,
                                   "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5],
                                               [0.1, 0.5]]}]}]}

    def known():
        status, body = desk.api("/api/detectors")
        return status == 200 and any(x["detector_id"] == "det-quiet" and x["connected"]
                                     for x in body["detectors"])
    with Daemon(binary, cfg, tmp, config_name="quiet.yaml", events="quiet.jsonl",
                log="quiet.log") as d:
        check(wait_for(known, 15), "a detector that has delivered nothing is known to the desk "
                                   "as connected (HELO)")
        d.stop()


def main():
    binary, intake, workdir = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
    demo_yaml, video = clip(workdir)
    with tempfile.TemporaryDirectory(prefix="so_deskdet_") as tmp:
        desk = DeskIntake(intake, tmp)
        try:
            check(desk.ready(), "the desk answers")
            quiet_detector(binary, desk, tmp)
            cfg = bay_config(demo_yaml, video, "det-desk", tmp,
                             {"endpoint": desk.endpoint, "drain_s": 5})
            with Daemon(binary, cfg, tmp) as d:
                loop(desk, d)
                d.stop()
        finally:
            desk.proc.terminate()
            desk.proc.wait()
    sys.exit(finish())


if __name__ == "__main__":
    main()
