#!/usr/bin/python3
"""A real RTSP server for the tests: GStreamer's gst-rtsp-server (Debian 12,
gir1.2-gst-rtsp-server-1.0) through python3-gi, serving clips as cameras on 127.0.0.1.

    rtsp_server.py --port N [--user U --password P] MOUNT=CLIP [MOUNT=CLIP...]

Each MOUNT (e.g. /cam1) serves CLIP without re-encoding: an .mp4 through qtdemux, an .ts
(MPEG-TS, which may change resolution mid-stream) through tsdemux; H.264 only. Every client gets
its own pipeline from the start of the clip, paced in real time by the server's clock. A clip
that ends ends the stream (the tests make clips long enough, looping them with ffmpeg's
-stream_loop where a camera must run longer than the clip). With --user/--password every mount
requires HTTP Basic authentication.

Prints "READY <port>" on stdout once it listens; runs until killed. Why a separate process: the
tests kill it (SIGKILL) mid-stream and start it again, as a camera or NVR that crashes does.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def launch_line(clip):
    demux = "tsdemux" if clip.endswith(".ts") else "qtdemux"
    return (f"( filesrc location={clip} ! {demux} ! h264parse ! "
            "rtph264pay name=pay0 pt=96 config-interval=-1 )")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("mounts", nargs="+", help="MOUNT=CLIP")
    a = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    mounts = server.get_mount_points()
    for m in a.mounts:
        path, clip = m.split("=", 1)
        f = GstRtspServer.RTSPMediaFactory()
        f.set_launch(launch_line(clip))
        f.set_shared(False)
        if a.user:
            perm = GstRtspServer.RTSPPermissions()
            perm.add_role_from_structure(Gst.Structure.new_from_string(
                "camera, media.factory.access=(boolean)true, "
                "media.factory.construct=(boolean)true"))
            f.set_permissions(perm)
        mounts.add_factory(path, f)
    if a.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "camera")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password), token)
        server.set_auth(auth)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{a.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    print(f"READY {a.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
