"""`sharpeyes eval --perturb SPEC`: the cases run as another camera would see the same scene.

A labelled clip is one camera, one light, one frame rate and one encoder. Whether a config holds when the
light is switched on or off, when the camera streams at half the frame rate, at a lower resolution or with
harder compression is measured by running the same cases, with the same truth, on changed frames:

- ``light=G`` (or ``light=G@AT``, ``light=G@FROM..TO``): every frame from AT (default 40% of the case's
  duration) multiplied by G, clipped to 0-255 (a light switched on: 1.3; off: 0.7); with FROM..TO the factor
  grows linearly from 1 to G between the two (a cloud, dusk). Times are seconds (``@18``) or fractions of the
  case's duration (``@40%``).
- ``every=N``: only every N-th source frame (a 25 fps camera set to 12.5 fps: ``every=2``).
- ``scale=S``: frames resized by S (0.5: 1280x720 becomes 640x360), after the light.
- ``jpeg=Q``: each frame encoded as JPEG at quality Q (1-100) and decoded again (compression artefacts).
- ``mono``: each frame grey in all three channels (a camera in its infrared night mode).
- ``noise=S``: Gaussian noise of S grey levels added to each frame (a dark scene's sensor noise), the same for
  the same frame time on every run.

Several are given comma-separated (``light=1.3,every=2``). The first frames left out by ``--phases`` count
before ``every`` thins what is left, so each phase is still a different sampling of the clip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.errors import ConfigError

LIGHT_AT = 0.4   # default start of a light change: this fraction of the case's duration
HELP = ("give comma-separated key=value: light=G[@AT|@FROM..TO] (times in s, or % of the case's duration), "
        "every=N, scale=S, jpeg=Q, noise=S, or mono; e.g. light=1.3@40%,every=2")
_TIME = r"(\d+(?:\.\d*)?%?)"
_LIGHT = re.compile(rf"^(\d+(?:\.\d*)?)(?:@{_TIME}(?:\.\.{_TIME})?)?$")


@dataclass(frozen=True)
class Perturb:
    """What is changed in each frame. Times are seconds; a string time ("40%") is a fraction of the case's
    duration until `resolved` makes it seconds."""

    light: float = 1.0
    light_from: float | str = f"{LIGHT_AT * 100:g}%"
    light_to: float | str | None = None       # None: a step at light_from
    every: int = 1
    scale: float = 1.0
    jpeg: int | None = None
    mono: bool = False
    noise: float = 0.0
    spec: str = ""

    def resolved(self, duration_s: float | None) -> Perturb:
        """Fractions of the duration made seconds (a case's truth gives its duration); no light change, no
        time to resolve."""
        if self.light == 1.0:
            return replace(self, light_from=0.0, light_to=None)
        def sec(v: float | str | None) -> float | None:
            if not isinstance(v, str):
                return v
            if duration_s is None:
                raise ConfigError(f"--perturb {self.spec}: a time in % needs the duration (a case's "
                                  "duration_s in truth.json, a clip's in its header); give seconds instead")
            return float(v[:-1]) / 100.0 * duration_s
        start = sec(self.light_from)
        return replace(self, light_from=0.0 if start is None else start, light_to=sec(self.light_to))

    def gain(self, t: float) -> float:
        """The light factor at time t (1 before the change)."""
        if self.light == 1.0:
            return 1.0
        t0 = float(self.light_from)   # resolved: seconds
        t1 = float(self.light_to) if self.light_to is not None else t0
        if t < t0:
            return 1.0
        if t >= t1:
            return self.light
        return 1.0 + (self.light - 1.0) * (t - t0) / (t1 - t0)

    def apply(self, image: np.ndarray, t: float) -> np.ndarray:
        """The frame at time t as the changed camera would deliver it."""
        g = self.gain(t)
        if g != 1.0:
            image = cv2.convertScaleAbs(image, alpha=g)   # saturates at 0 and 255, as a sensor clips
        if self.scale != 1.0:
            h, w = image.shape[:2]
            size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
            how = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR
            image = cv2.resize(image, size, interpolation=how)
        if self.mono:
            image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        if self.noise > 0:
            rng = np.random.default_rng(int(round(t * 1000)))   # the same noise for the same frame, every run
            noisy = image.astype(np.float32) + rng.normal(0.0, self.noise, image.shape).astype(np.float32)
            image = np.clip(noisy, 0, 255).astype(np.uint8)
        if self.jpeg is not None:
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
            if decoded is not None:
                image = decoded
        return image

    @property
    def needs_duration(self) -> bool:
        """A light change with a time given in % (of a case's or clip's duration)."""
        return self.light != 1.0 and any(isinstance(v, str) for v in (self.light_from, self.light_to))

    @property
    def changes_images(self) -> bool:
        return self.light != 1.0 or self.scale != 1.0 or self.jpeg is not None or self.mono or self.noise > 0

    def as_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "light": self.light, "light_from": self.light_from,
                "light_to": self.light_to, "every": self.every, "scale": self.scale, "jpeg": self.jpeg,
                "mono": self.mono, "noise": self.noise}


def parse(spec: str) -> Perturb:
    """`--perturb` text -> Perturb; a ConfigError that names the bad part and says what to give."""
    def bad(part: str, why: str) -> ConfigError:
        return ConfigError(f"--perturb {spec!r}: {part!r} {why}; {HELP}")

    fields: dict[str, Any] = {}
    seen: set[str] = set()
    for part in (p.strip() for p in spec.split(",")):
        key, eq, value = part.partition("=")
        key = key.strip()
        value = value.strip()
        if key in seen:
            raise bad(part, "is given twice")
        seen.add(key)
        if key == "mono":
            if eq:
                raise bad(part, "takes no value (give mono)")
            fields["mono"] = True
            continue
        if not eq or not value:
            raise bad(part, "is not key=value")
        if key == "noise":
            try:
                n = float(value)
            except ValueError:
                raise bad(part, "needs a number") from None
            if not 0 < n <= 100:
                raise bad(part, "needs grey levels between 0 and 100")
            fields["noise"] = n
        elif key == "light":
            m = _LIGHT.match(value)
            if not m:
                raise bad(part, "is not G, G@AT or G@FROM..TO")
            g = float(m.group(1))
            if not 0 < g <= 10:
                raise bad(part, "needs a factor between 0 and 10")
            fields["light"] = g
            if m.group(2):
                fields["light_from"] = _time(m.group(2))
            if m.group(3):
                fields["light_to"] = _time(m.group(3))
                a, b = fields["light_from"], fields["light_to"]
                if isinstance(a, str) == isinstance(b, str) and _num(b) <= _num(a):
                    raise bad(part, "needs FROM before TO")
                if isinstance(a, str) != isinstance(b, str):
                    raise bad(part, "mixes seconds and % in FROM..TO")
        elif key == "every":
            if not value.isdigit() or int(value) < 1:
                raise bad(part, "needs a whole number of frames, 1 or more")
            fields["every"] = int(value)
        elif key == "scale":
            try:
                s = float(value)
            except ValueError:
                raise bad(part, "needs a number") from None
            if not 0.05 <= s <= 4:
                raise bad(part, "needs a factor between 0.05 and 4")
            fields["scale"] = s
        elif key == "jpeg":
            if not value.isdigit() or not 1 <= int(value) <= 100:
                raise bad(part, "needs a quality from 1 to 100")
            fields["jpeg"] = int(value)
        else:
            raise bad(part, "is no perturbation (light, every, scale, jpeg, noise, mono)")
    return Perturb(spec=spec, **fields)


def clip_duration(path: str | Path) -> float | None:
    """A clip's duration by its header (frames / fps): a hint, enough to place a light change; None when the
    header does not say."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        frames, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)
    finally:
        cap.release()
    return float(frames / fps) if frames > 0 and fps > 0 else None


def _time(text: str) -> float | str:
    return text if text.endswith("%") else float(text)


def _num(v: float | str) -> float:
    return float(v[:-1]) if isinstance(v, str) else v
