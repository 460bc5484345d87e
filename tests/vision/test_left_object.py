"""The left-object background (vision/rules/left_object.py) on synthetic frames."""

import numpy as np

from vision.rules.left_object import StaticForeground


def frame(t: float, walker: bool, bag: bool) -> np.ndarray:
    img = np.full((240, 320, 3), 120, np.uint8)
    img[::16, :] = 100   # paving joints
    if walker and t >= 4.4:  # a dark figure walking slowly in (12 px a second) late in the warm-up
        x = int(100 + 12 * (t - 4.4))
        img[100:180, x:x + 24] = (30, 30, 200)
    if bag:
        img[200:224, 150:180] = (20, 160, 220)
    return img


def test_someone_walking_through_while_the_background_is_learnt_leaves_no_ghost() -> None:
    """Someone walks in slowly in the last 1.6 s of the first 6 s (the warm-up, learnt fast everywhere) and is
    gone after it: where he walked, the empty paving is no left object afterwards (a running average kept a
    trace of him there, which the short-term background then lost: a ghost); a bag put down at 10 s is one."""
    bg = StaticForeground()
    t, step = 0.0, 0.2
    while t < 10.0:
        mask = bg.apply(frame(t, walker=t < 6.0, bag=False), t)   # gone at 6 s
        t += step
    assert not mask.any()
    while t < 16.0:
        mask = bg.apply(frame(t, walker=False, bag=True), t)
        t += step
    ys, xs = np.nonzero(mask)
    s = bg.scale
    assert len(xs) and 140 <= xs.min() * s and xs.max() * s <= 190 and 190 <= ys.min() * s, (xs, ys)
