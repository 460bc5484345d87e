"""`Track.update_stillness` in fewer numpy calls (it runs for every box of every detector run) gives the
numbers of the plain formulas: np.median of the last three boxes, np.linalg.norm, numpy scalars in the
walk back."""

from __future__ import annotations

import numpy as np

from vision.config import TrackerSettings
from vision.track import ODD_S, Track


def _reference(track: Track, t: float, s: TrackerSettings) -> tuple[float, bool, float]:
    path = np.array(track.path, dtype=np.float64)
    times, xy, sizes = path[:, 0], path[:, 1:3], path[:, 3]
    ref, ref_size = np.median(xy[-3:], axis=0), float(np.median(sizes[-3:]))
    dist = np.linalg.norm(xy - ref, axis=1)
    near = (dist <= s.still_radius * ref_size + 1.0) & (np.abs(np.log(sizes / ref_size)) <= np.log(1.35))
    back = times <= t - s.still_window_s
    k = int(np.nonzero(back)[0][-1]) if back.any() else 0
    drift, odd = float(dist[k] / ref_size), not bool(near[-1])
    j, since = len(times) - 1, float(times[-1])
    while j >= 0:
        if near[j]:
            since = float(times[j])
            j -= 1
            continue
        k = j
        while k >= 0 and not near[k]:
            k -= 1
        if k < 0 or not (j - k <= 1 or times[j] - times[k + 1] < ODD_S):
            break
        j = k
    if j < 0 and len(track.path) == track.path.maxlen:
        since = min(since, track.still_since)
    return drift, odd, since


def test_stillness_matches_the_plain_formulas() -> None:
    rng = np.random.default_rng(11)
    settings = TrackerSettings()
    for n in [*range(1, 12), *[60] * 20, *[400] * 20]:   # up to a full path (it keeps the latest PATH)
        track = Track(id=1, first_t=0.0, box=np.zeros(4, np.float32), last_t=0.0, score=0.5, max_score=0.5,
                      still_since=0.0, best_box=np.zeros(4, np.float32), best_t=0.0)
        t, x, y = 0.0, 100.0, 80.0
        for _ in range(n):
            t += 0.4 + float(rng.random()) * 0.3
            if rng.random() < 0.3:   # moves now and then; a box of another size now and then
                x, y = x + float(rng.normal()) * 20, y + float(rng.normal()) * 5
            track.path.append((t, x, y, 30.0 + float(rng.random()) * (20 if rng.random() < 0.2 else 3)))
        track.still_since = float(rng.random()) * t
        want = _reference(track, t, settings)
        track.update_stillness(t, settings)
        assert (track.drift, track.odd, track.still_since) == want
