"""Levelling the light before the background model sees a frame.

A cloud, dusk, a light switched on or off and a camera's own exposure change every pixel by about the same
factor. To a background model (MOG2 in vision/motion.py) that is the whole frame moving until it has learnt
the new light (vtest dimmed to 0.7 at 40 s: 6 s, every frame a whole-frame detector run; a fall of the light
over a minute, as at dusk: again and again while it lasts). Each measured frame is therefore scaled back to
the light the model has learnt: the factor is the median ratio of a key frame's pixels (a measured frame up to
LEVEL_KEY frames back) to this frame's, so what moves (a minority of the pixels) does not set it, and
quantised pixels still show a slow change (dusk) once it has grown over the key frame's span. The factor
eases back to 1 at the model's own learning rate (OpenCV's: 1 / min(2 x frames learnt, history)), as the
model learns the new light; within LEVEL_EASE of 1 the frame is left exactly as it is, so a steady picture is
never touched. A change by more
than LEVEL_RELEARN (a light switched on in a dark corridor) is not levelled: the picture would lose most of
its contrast, or gain most of its noise, while the factor eases back; the model learns the new scene anew
instead (`beyond`).

Usage::

    light = Light(history=300)
    levelled = light.level(small_grey)          # a frame the model learns from (in frame order)
    between = light.levelled(other_small_grey)  # a frame it does not: scaled as the last one was
"""

from __future__ import annotations

import cv2
import numpy as np

LEVEL_EASE = 0.03          # a factor within this of 1: the frame is left as it is
LEVEL_RELEARN = 1.5        # a factor beyond this (or under its inverse): not levelled, read afresh
LEVEL_DARK = 8             # pixels darker than this (or saturated) do not tell the light
LEVEL_SATURATED = 250
LEVEL_KEY = 10             # measured frames a key frame serves (the light is read against it)
LEVEL_STEP = 4             # every 4th pixel of every 4th row is read


class Light:
    """The factor that brings each frame of one camera to the light its background model has learnt."""

    def __init__(self, history: int) -> None:
        self.history = history
        self.gain = 1.0                        # the last measured frame's factor, as applied
        self._frames = 0                       # frames measured (the model's own count)
        self._key: np.ndarray | None = None    # a measured frame's grey copy, thinned out, as it came
        self._key_level = 1.0                  # the factor that brought it to the learnt light
        self._keyed = 0                        # measured frames since it

    def level(self, grey: np.ndarray) -> np.ndarray:
        """A measured frame's small grey copy, levelled (frames in order: the key frame moves on)."""
        now = grey[::LEVEL_STEP, ::LEVEL_STEP]
        self._frames += 1
        rate = 1.0 / min(2 * self._frames, self.history)
        self._key_level = 1.0 + (self._key_level - 1.0) * (1.0 - rate)
        level = self._key_level
        if self._key is not None:
            key = self._key
            ok = (now >= LEVEL_DARK) & (key >= LEVEL_DARK) & (now < LEVEL_SATURATED) & (key < LEVEL_SATURATED)
            if np.count_nonzero(ok) * 4 >= ok.size:
                level *= float(np.median(key[ok].astype(np.float32) / now[ok]))
        if not 1.0 / LEVEL_RELEARN <= level <= LEVEL_RELEARN:
            self._key, level = None, 1.0   # too much to level: this frame as it comes, the next against it
        self._keyed += 1
        if self._key is None or self._keyed >= LEVEL_KEY:
            self._key, self._key_level, self._keyed = now, level, 0
        self.gain = 1.0 if abs(level - 1.0) <= LEVEL_EASE else level
        return self.levelled(grey)

    def levelled(self, grey: np.ndarray) -> np.ndarray:
        """A small grey copy scaled as the last measured frame was (a line camera's frame between two
        measured ones, which the model does not learn from)."""
        return grey if self.gain == 1.0 else cv2.convertScaleAbs(grey, alpha=self.gain)
