"""A real RTSP camera for the slow tests: GStreamer's RTSP server (gst-rtsp-server) playing a folder of JPEG
frames in a loop as H.264, at the frames' rate, as its own process.

Run by Debian's /usr/bin/python3 with python3-gi (not the project's venv, which has no GObject bindings):

    /usr/bin/python3 tests/rtsp_server.py --frames DIR --fps 10 --port 8554 --mount /cam

It prints ``ready rtsp://127.0.0.1:PORT/MOUNT`` once it listens. Every client that connects while the media
runs shares it (a camera has one picture); the first client after a restart sees frame 0 again.
Packages: scripts/test-setup.sh installs them (gir1.2-gst-rtsp-server-1.0, python3-gi, the plugins).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", required=True, help="folder of JPEG frames, played in name order, looped")
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--mount", default="/cam")
    args = ap.parse_args()
    frames = [p.read_bytes() for p in sorted(Path(args.frames).glob("*.jpg"))]
    if not frames:
        print(f"no .jpg frames in {args.frames}", file=sys.stderr)
        return 2
    Gst.init(None)
    fps = args.fps
    frame_ns = Gst.SECOND // fps

    def need_data(src: Gst.Element, _length: int, pos: list[int]) -> None:
        n = pos[0]
        buf = Gst.Buffer.new_wrapped(frames[n % len(frames)])
        buf.pts, buf.duration = n * frame_ns, frame_ns
        pos[0] = n + 1
        src.emit("push-buffer", buf)

    def configure(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
        src = media.get_element().get_by_name_recurse_up("src")
        src.connect("need-data", need_data, [0])

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( appsrc name=src format=time caps=image/jpeg,framerate={fps}/1 ! jpegdec ! videoconvert "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate=2000 "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(True)
    factory.connect("media-configure", configure)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 2
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"ready rtsp://127.0.0.1:{args.port}{args.mount}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
