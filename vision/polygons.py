"""Polygon sanity for zones and masks drawn by hand: a polygon whose edges cross is not a region.

Relative 0..1 coordinates, as in the camera config. No OpenCV, so the api can check a config without it.
"""

from __future__ import annotations

from collections.abc import Sequence

Pt = Sequence[float]


def _orient(a: Pt, b: Pt, c: Pt) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Pt, b: Pt, p: Pt) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def segments_cross(a: Pt, b: Pt, c: Pt, d: Pt) -> bool:
    """Whether segment ab and segment cd meet (touching counts)."""
    o1, o2, o3, o4 = _orient(a, b, c), _orient(a, b, d), _orient(c, d, a), _orient(c, d, b)
    if ((o1 > 0) != (o2 > 0)) and ((o3 > 0) != (o4 > 0)) and 0 not in (o1, o2, o3, o4):
        return True
    return ((o1 == 0 and _on_segment(a, b, c)) or (o2 == 0 and _on_segment(a, b, d))
            or (o3 == 0 and _on_segment(c, d, a)) or (o4 == 0 and _on_segment(c, d, b)))


def crossing_edges(points: Sequence[Pt]) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges (by index: edge i runs from point i to point i+1) that meet, or
    None for a simple polygon."""
    n = len(points)
    if n < 4:
        return None
    for i in range(n):
        a, b = points[i], points[(i + 1) % n]
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue      # the closing edge is adjacent to the first one
            if segments_cross(a, b, points[j], points[(j + 1) % n]):
                return i, j
    return None


def polygon_problem(points: Sequence[Pt]) -> str | None:
    """Why a polygon is not usable as a region (self-crossing, no area), or None."""
    if len(points) < 3:
        return f"a polygon needs at least 3 points, got {len(points)}"
    n = len(points)
    crossing = crossing_edges(points)
    if crossing is not None:
        i, j = crossing
        return (f"the polygon crosses itself (edge {i + 1}-{(i + 1) % n + 1} meets edge "
                f"{j + 1}-{(j + 1) % n + 1}); move its points so that no two edges cross")
    area = sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
               for i in range(n)) / 2
    if abs(area) < 1e-6:
        return "the polygon has no area (its points are on one line); draw it again"
    return None
