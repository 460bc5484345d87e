import numpy as np
import pytest

from vision.boxes import bottom_centre, box_iou, covered, inside_fraction, inside_fractions, iou, size


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
