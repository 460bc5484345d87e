from __future__ import annotations

import pytest

from patrol import DEMO_SITE, PatrolError, load_site, site_from_dict

from .conftest import line_site_dict


def test_travel_time_is_shortest_path_over_speed(line_site):
    assert line_site.travel_time_s("p0", "p4") == pytest.approx(400.0)
    assert line_site.path("p0", "p3") == ["p0", "p1", "p2", "p3"]


def test_shortcut_link_is_used():
    d = line_site_dict()
    d["links"].append({"a": "p0", "b": "p4", "length_m": 150})
    site = site_from_dict(d)
    assert site.travel_time_s("p0", "p4") == pytest.approx(150.0)
    assert site.travel_time_s("p1", "p4") == pytest.approx(250.0)   # back to p0, then the shortcut


def test_unreachable_place_is_named():
    d = line_site_dict()
    d["places"]["island"] = {"kind": "bike_shed", "xy": [10, 40]}
    with pytest.raises(PatrolError, match="place 'island' cannot be reached"):
        site_from_dict(d, "s.yaml")


def test_one_way_dead_end_is_named():
    d = line_site_dict()
    d["places"]["yard"] = {"kind": "square", "xy": [10, 40]}
    d["links"].append({"a": "p0", "b": "yard", "one_way": True})
    with pytest.raises(PatrolError, match="'yard' cannot walk back"):
        site_from_dict(d, "s.yaml")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["links"].append(["p0", "nowhere"]), "links.*'nowhere'"),
    (lambda d: d["places"]["p0"].update(colour="red"), "places.p0.colour"),
    (lambda d: d["places"]["p0"].update(kind="moon"), "places.p0.kind"),
    (lambda d: d["places"]["p1"].update(grid="Z"), "places.p1.grid 'Z'"),
])
def test_bad_site_errors_name_the_item(mutate, message):
    d = line_site_dict()
    mutate(d)
    with pytest.raises(PatrolError, match=message):
        site_from_dict(d, "s.yaml")


def test_grids_nearest_place_and_pixels(line_site):
    assert line_site.grid_of["p1"] == "W" and line_site.grid_of["p3"] == "E"
    assert line_site.grid_worker("E") == "gw_e"
    assert line_site.nearest_place(290, 30) == "p3"
    px = line_site.to_pixel(100, 10)
    assert px == (400.0, 160.0)   # 4 px/m, y flipped on a 50 m tall plan
    assert line_site.to_metres(*px) == pytest.approx((100, 10))


def test_missing_file(tmp_path):
    with pytest.raises(PatrolError, match="site file not found"):
        load_site(tmp_path / "none.yaml")


def test_demo_site_loads_and_matches_its_image():
    from PIL import Image

    site = load_site(DEMO_SITE)
    assert site.grid_of["b1_lobby"] == "G1" and site.grid_of["square"] == "G4"
    assert {"gate", "bike_shed", "fire_lane", "checkpoint",
            "lobby"} <= {p.kind for p in site.config.places.values()}
    plan = site.config.plan
    assert site.plan_image is not None
    with Image.open(site.plan_image) as img:
        assert img.size == (round(plan.width_m * plan.px_per_m), round(plan.height_m * plan.px_per_m))
