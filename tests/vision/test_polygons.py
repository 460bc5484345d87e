"""Hand-drawn polygons: a self-crossing one (a bow tie) or one without area is refused, edges named."""

from __future__ import annotations

import pytest

from vision.polygons import polygon_problem


@pytest.mark.parametrize(("points", "words"), [
    ([(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)], None),
    ([(0.0, 0.76), (0.3, 0.745), (0.6, 0.79), (1.0, 0.72), (1.0, 0.97), (0.0, 0.97)], None),
    ([(0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9)], "edge 1-2 meets edge 3-4"),
    ([(0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.3, 0.0), (0.1, 0.5)], "crosses itself"),
    ([(0.1, 0.1), (0.5, 0.5), (0.9, 0.9)], "no area"),
    ([(0.1, 0.1), (0.5, 0.5)], "at least 3 points"),
])
def test_polygon_problem(points: list[tuple[float, float]], words: str | None) -> None:
    problem = polygon_problem(points)
    assert (problem is None) if words is None else (problem is not None and words in problem)
