import numpy as np
import pytest

from vision.boxes import (
    area,
    bottom_centre,
    box_iou,
    covered,
    inside_fraction,
    inside_fractions,
    intersection,
    iou,
    overlap,
    size,
)
from vision.rules.base import Episode
from vision.rules.left_object import _best_match
from vision.rules.line import _mostly_inside


def test_iou_matrix_and_single() -> None:
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 110]])
    b = np.array([[5, 0, 15, 10]])
    m = box_iou(a, b)
    assert m.shape == (2, 1)
    assert m[0, 0] == pytest.approx(1 / 3)
    assert m[1, 0] == 0.0
    assert iou(np.array([0, 0, 10, 10]), np.array([0, 0, 10, 10])) == pytest.approx(1.0)
    assert iou(np.array([0, 0, 0, 0]), np.array([0, 0, 0, 0])) == 0.0  # empty boxes: no division by zero


def test_inside_fraction_is_of_the_first_box() -> None:
    small, big = np.array([2, 2, 4, 4]), np.array([0, 0, 10, 10])
    assert inside_fraction(small, big) == pytest.approx(1.0)
    assert inside_fraction(big, small) == pytest.approx(0.04)
    assert inside_fraction(np.array([5, 5, 5, 5]), big) == 0.0
    # against several boxes at once: the same numbers
    others = np.array([[0, 0, 10, 10], [3, 3, 10, 10], [8, 8, 9, 9]])
    expected = [inside_fraction(small, o) for o in others]
    assert list(inside_fractions(small, others)) == expected == [1.0, 0.25, 0.0]
    assert list(inside_fractions(np.array([5, 5, 5, 5]), others)) == [0.0, 0.0, 0.0]


def test_covered_by_padded_boxes() -> None:
    track = np.array([[100, 100, 140, 200]], dtype=np.float32)
    assert covered(np.array([90, 90, 150, 210]), track)        # inside the padding
    assert not covered(np.array([400, 100, 440, 200]), track)   # elsewhere
    assert not covered(np.array([90, 90, 150, 210]), np.zeros((0, 4)))


def test_size_and_bottom_centre() -> None:
    box = np.array([10, 20, 30, 120])
    assert size(box) == pytest.approx(np.sqrt(2000))
    assert bottom_centre(box).tolist() == [20.0, 120.0]


def _old_mostly_inside(box: np.ndarray, group: np.ndarray) -> bool:
    """vision.rules.line._mostly_inside before it used vision.boxes.overlap (numpy, in the boxes' dtype)."""
    inner = np.clip(np.minimum(box[2:], group[2:]) - np.maximum(box[:2], group[:2]), 0, None)
    return float(inner.prod()) >= 0.6 * float(np.prod(box[2:] - box[:2]))


def _old_best_match(box: np.ndarray, eps: list[Episode]) -> Episode | None:
    """vision.rules.left_object._best_match before it used vision.boxes.overlap (its own plain floats)."""
    bx1, by1, bx2, by2 = box.tolist()
    b_area = max(bx2 - bx1, 0.0) * max(by2 - by1, 0.0)
    best, best_iou = None, -1.0
    for ep in eps:
        ex1, ey1, ex2, ey2 = np.asarray(ep.box, np.float64).tolist()
        e_area = max(ex2 - ex1, 0.0) * max(ey2 - ey1, 0.0)
        inter = max(min(ex2, bx2) - max(ex1, bx1), 0.0) * max(min(ey2, by2) - max(ey1, by1), 0.0)
        union = e_area + b_area - inter
        o = inter / max(union, 1e-9) if union > 0 else 0.0
        inside = ((inter / b_area if b_area > 0 else 0.0) > 0.6
                  or (inter / e_area if e_area > 0 else 0.0) > 0.6)
        if (o >= 0.3 or inside) and o > best_iou:
            best, best_iou = ep, o
    return best


def _boxes(n: int, seed: int) -> np.ndarray:
    """Float32 boxes crowded into a 200 px square (most pairs overlap), a third on whole pixels, some empty
    (no width or height) and some the same box twice."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(0, 80, (n, 2)) * (rng.random((n, 1)) > 0.05)
    boxes = np.concatenate([xy, xy + wh], axis=1)
    boxes[: n // 3] = np.round(boxes[: n // 3])
    boxes[-10:] = boxes[:10]
    return boxes.astype(np.float32)


def test_overlap_in_plain_floats_is_the_numpy_geometry() -> None:
    a, b = _boxes(300, 1), _boxes(300, 2)
    for p, q in zip(a, b, strict=True):
        inter, area_p, area_q = overlap(p.tolist(), q.tolist())
        assert (inter, area_p, area_q) == (intersection(p, q)[0, 0], area(p)[0], area(q)[0])
    assert overlap([0, 0, 10, 10], [5, 0, 15, 20]) == (50, 100, 200)
    assert overlap([10, 10, 0, 0], [0, 0, 10, 10]) == (0.0, 0.0, 100)   # an inverted box is empty


def test_the_rules_box_tests_give_what_they_gave_before() -> None:
    """line's _mostly_inside and left_object's _best_match share vision.boxes.overlap: the same answers as
    their own arithmetic gave, on every pair (and every group of candidates) of a few thousand boxes."""
    boxes, groups = _boxes(3000, 3), _boxes(3000, 4)
    answers = [_mostly_inside(b, g) for b, g in zip(boxes, groups, strict=True)]
    assert answers == [_old_mostly_inside(b, g) for b, g in zip(boxes, groups, strict=True)]
    assert 100 < sum(answers) < len(answers) - 100   # both answers, many times
    regions = [Episode(key=str(k), label="unknown", first_seen=0.0, start=0.0, last_t=0.0, box=b, score=1.0)
               for k, b in enumerate(_boxes(60, 5))]
    def key(ep: Episode | None) -> str | None:
        return ep.key if ep is not None else None

    found = [key(_best_match(b, regions[k % 50:k % 50 + 8])) for k, b in enumerate(boxes)]
    assert found == [key(_old_best_match(b, regions[k % 50:k % 50 + 8])) for k, b in enumerate(boxes)]
    assert 100 < sum(f is not None for f in found) < len(found) - 100
