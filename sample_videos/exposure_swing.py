"""Give a real clip an auto-exposure swing over its first seconds (`real_vtest_line_exposure`).

A camera that starts over-exposed, undershoots and settles, as auto exposure does at start-up or after a light
change: every frame is multiplied by the gain 1 + exp(-t / 1.5) cos(pi t / 3) for t < 6.5 s (x2.0 at 0 s,
x0.84 at 2.6 s, x1.0 from 6.5 s), clipped to 0..255, and written with the FFmpeg of imageio-ffmpeg (libx264).
Brightness only: nothing moves, so the clip keeps its source's labels.

    .venv/bin/python sample_videos/exposure_swing.py sample_videos/real/vtest-fast3x.mp4 \
        sample_videos/real/vtest-fast3x-exposure.mp4
"""

from __future__ import annotations

import math
import subprocess
import sys

import cv2
import imageio_ffmpeg
import numpy as np

SETTLED_S = 6.5


def gain(t: float) -> float:
    return 1.0 + math.exp(-t / 1.5) * math.cos(math.pi * t / 3.0) if t < SETTLED_S else 1.0


def main(src: str, dst: str) -> None:
    cap = cv2.VideoCapture(src)
    fps = cap.get(cv2.CAP_PROP_FPS)
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", "-c:v", "libx264", "-threads", "1", "-crf", "23", "-preset", "slow",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart", dst]
    enc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert enc.stdin is not None
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out = np.clip(frame.astype(np.float32) * gain(i / fps), 0, 255).astype(np.uint8)
        enc.stdin.write(out.tobytes())
        i += 1
    enc.stdin.close()
    enc.wait()
    print(f"{i} frames at {fps} fps -> {dst}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
