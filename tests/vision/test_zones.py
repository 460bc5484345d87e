import numpy as np

from vision.zones import PolygonZone


def test_bottom_centre_inside_with_inertia() -> None:
    zone = PolygonZone("z", [(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 1)], 100, 100, inertia=3)
    assert zone.contains(np.array([[75, 75], [10, 10], [50, 50]])).tolist() == [True, False, True]
    flags = [bool(zone.trigger([1], np.array([[75, 75]]))[0]) for _ in range(3)]
    assert flags == [False, False, True]            # enters after 3 agreeing observations
    assert zone.trigger([1], np.array([[10, 10]]))[0]  # one bad box does not leave
    assert zone.trigger([1], np.array([[75, 75]]))[0]
    for _ in range(3):
        inside = zone.trigger([1], np.array([[10, 10]]))[0]
    assert not inside
    zone.forget({1})
    assert zone.state_size() == 0
