"""Residents' reports (群众点单) through the real app: the public report, its refusals (nothing stored), the
limits, the public status (nothing internal leaks), the rating and 不满意 reopening through the lifecycle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api.services import lifecycle as lc
from tests.api.conftest import Harness, build, jpeg_bytes


def report(api: Harness, photos: list[bytes] | None = None, **form: str) -> Any:
    data = {"category": "stairwell_clutter", "text": "3号楼2单元楼道堆了很多纸箱", "place": "p2", **form}
    files = [("photos", (f"p{i}.jpg", b, "image/jpeg")) for i, b in enumerate(photos or [])]
    return api.client.post("/api/public/reports", data=data, files=files or None)


def stored(api: Harness) -> tuple[int, int, int, int]:
    media_files = sum(1 for p in (api.tmp / "media").rglob("*") if p.is_file())
    return api.count("reports"), api.count("incidents"), api.count("media"), media_files


def act(api: Harness, who: str, inc: int, action: str, **kw: Any) -> Any:
    r = api.client.post(f"/api/incidents/{inc}/actions", headers=api.auth(who), json={"action": action, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_point_on_the_plan_names_the_nearest_place(api: Harness) -> None:
    r = report(api, place="", x="205", y="12")
    assert r.status_code == 201, r.text
    assert api.client.get("/api/incidents", headers=api.auth("op")).json()[0]["place"] == "p2"
    assert report(api, place="", x="-5", y="1").status_code == 422


def test_form_offers_the_policy_categories_and_the_site_places(api: Harness) -> None:
    r = api.client.get("/api/public/form")
    assert r.status_code == 200
    cats = {c["id"]: c["name"] for c in r.json()["categories"]}
    assert cats["stairwell_clutter"] == "楼道堆物" and "resident_report" in cats
    assert {p["id"] for p in r.json()["places"]} == {"p0", "p1", "p2", "p3", "p4"}
    assert r.json()["max_photos"] == 3


def test_a_report_with_a_photo_becomes_a_resident_incident_with_a_code(api: Harness) -> None:
    r = report(api, [jpeg_bytes()], phone="13800138000")
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert len(code) == 8 and r.json()["url"] == f"/r/?c={code}"
    incs = api.client.get("/api/incidents", headers=api.auth("op")).json()
    assert len(incs) == 1 and incs[0]["source"] == "resident" and incs[0]["category"] == "stairwell_clutter"
    assert incs[0]["snapshot_url"] is not None           # the resident's photo
    detail = api.client.get(f"/api/incidents/{incs[0]['id']}", headers=api.auth("op")).json()
    assert [m["kind"] for m in detail["media"]] == ["photo"]
    reps = api.client.get("/api/resident-reports", headers=api.auth("op")).json()
    assert reps[0]["phone"] == "13800138000" and reps[0]["code"] == code
    st = api.client.get(f"/api/public/reports/{code.lower()}").json()
    assert st["state"] == "open" and st["category_name"] == "楼道堆物"
    assert [s["step"] for s in st["timeline"]] == ["opened"] and st["can_rate"] is False


@pytest.mark.parametrize("photos, form, status, words", [
    ([b"x" * 100], {}, 415, "not an image"),
    ([b"GIF89a" + b"\0" * 50], {}, 415, "not an image"),
    ([jpeg_bytes()] * 4, {}, 422, "at most 3 photos"),
    ([], {"text": "楼道里<script>alert(1)</script>"}, 422, "script"),
    ([], {"text": "<img src=x onerror=alert(1)>有人"}, 422, "script"),
    ([], {"category": "nope"}, 422, "category"),
    ([], {"place": "", "building": ""}, 422, "building"),
    ([], {"place": "mars"}, 422, "site plan"),
    ([], {"phone": "12345"}, 422, "phone"),
    ([], {"text": "短"}, 422, "at least"),
])
def test_bad_input_is_refused_clearly_and_stores_nothing(api: Harness, photos: list[bytes],
                                                        form: dict[str, str], status: int,
                                                        words: str) -> None:
    r = report(api, photos, **form)
    assert r.status_code == status, r.text
    assert words in json.dumps(r.json(), ensure_ascii=False)
    assert stored(api) == (0, 0, 0, 0)


def test_an_oversized_photo_is_refused_and_stores_nothing(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, site=True, resident_photo_bytes=20_000)
    with h.client:
        r = report(h, [jpeg_bytes(), jpeg_bytes(1500, 1500, (10, 200, 90)) + b"\0" * 30_000])
        assert r.status_code == 413 and "photo 2" in r.json()["detail"], r.text
        assert stored(h) == (0, 0, 0, 0)
    h.ctx.engine.dispose()


def test_a_flood_from_one_address_is_cut_at_the_limit_with_a_clear_message(api: Harness) -> None:
    statuses = []
    for i in range(1000):     # 1000 reports in a row from one address, each with a photo
        r = report(api, [jpeg_bytes()], phone=f"138{i:08d}")
        statuses.append(r.status_code)
        if r.status_code == 429:
            last = r.json()
    assert statuses[:5] == [201] * 5 and statuses[5:] == [429] * 995
    assert "5 reports an hour from one address" in last["detail"] and last["code"] == "too_many"
    assert stored(api) == (5, 5, 5, 5)       # reports, incidents, media rows, files: the first 5 only


def test_one_phone_number_is_limited_per_day(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, site=True, resident_reports_per_address=100,
              resident_reports_per_phone=2)
    with h.client:
        assert [report(h, phone="13900001111").status_code for _ in range(3)] == [201, 201, 429]
        assert report(h, phone="13900002222").status_code == 201
        assert h.count("reports") == 3
    h.ctx.engine.dispose()


def test_the_public_status_leaks_nothing_internal(api: Harness) -> None:
    code = report(api).json()["code"]
    inc = api.client.get("/api/incidents", headers=api.auth("op")).json()[0]["id"]
    api.client.post(f"/api/incidents/{inc}/notes", headers=api.auth("op"), json={"note": "INTERNAL-NOTE-42"})
    act(api, "op", inc, "dispatch", team_id=api.teams["t1"], reason="SECRET-DISPATCH-REASON")
    act(api, "lead1", inc, "decline", reason="SECRET-DECLINE-REASON")
    act(api, "op", inc, "dispatch", team_id=api.teams["t2"])
    for a in ("accept", "arrive", "resolve"):
        act(api, "lead2", inc, a)
    r = api.client.post(f"/api/incidents/{inc}/reply", headers=api.auth("op"),
                        json={"text": "纸箱已清理，谢谢反映"})
    assert r.status_code == 201, r.text
    st = api.client.get(f"/api/public/reports/{code}").json()
    raw = json.dumps(st, ensure_ascii=False)
    for secret in ("INTERNAL-NOTE-42", "SECRET-DISPATCH-REASON", "SECRET-DECLINE-REASON", "Team t1",
                   "Team t2",
                   '"op"', "lead1", "lead2", "patrol", "actor", "team_id", "13800", "points"):
        assert secret not in raw, secret
    steps = [s["step"] for s in st["timeline"]]
    assert steps == ["opened", "dispatch", "dispatch", "accept", "arrive", "resolve", "reply"]
    assert st["timeline"][-1]["text"] == "纸箱已清理，谢谢反映"
    assert all(set(s) <= {"at", "step", "state", "text", "rating"} for s in st["timeline"])
    assert st["state"] == "resolved" and st["can_rate"] is True


def test_dissatisfied_reopens_through_the_lifecycle_and_satisfied_after_the_next(api: Harness) -> None:
    code = report(api).json()["code"]
    inc = api.client.get("/api/incidents", headers=api.auth("op")).json()[0]["id"]
    rate = f"/api/public/reports/{code}/rating"
    r = api.client.post(rate, json={"rating": "satisfied"})
    assert r.status_code == 409 and "办结后才能评价" in r.json()["detail"]
    act(api, "op", inc, "dispatch", team_id=api.teams["t1"])
    for a in ("accept", "arrive", "resolve"):
        act(api, "lead1", inc, a)
    assert api.client.post(rate, json={"rating": "meh"}).status_code == 422
    r = api.client.post(rate, json={"rating": "dissatisfied"})
    assert r.status_code == 422 and "comment" in r.json()["detail"]
    r = api.client.post(rate, json={"rating": "dissatisfied", "comment": "纸箱还在"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "reopened" and r.json()["can_rate"] is False
    assert [s["step"] for s in r.json()["timeline"]][-2:] == ["rated", "dissatisfied"]
    op_view = api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()
    assert op_view["state"] == "reopened" and op_view["team_id"] is None
    assert "dispatch" in op_view["allowed_actions"] and "dissatisfied" not in op_view["allowed_actions"]
    assert op_view["timeline"][-1]["reason"] == "群众不满意: 纸箱还在"
    assert api.client.post(rate, json={"rating": "satisfied"}).status_code == 409   # once per resolution
    act(api, "op", inc, "dispatch", team_id=api.teams["t1"])
    for a in ("accept", "arrive", "resolve"):
        act(api, "lead1", inc, a)
    r = api.client.post(rate, json={"rating": "satisfied", "comment": "这次清干净了"})
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    assert r.json()["rating"]["rating"] == "satisfied"
    assert api.count("ratings") == 2


def test_only_the_resident_takes_the_dissatisfied_step() -> None:
    assert "dissatisfied" not in lc.allowed_actions("resolved", "operator")
    assert lc.allowed_actions("resolved", "resident") == ["dissatisfied"]
    assert lc.allowed_actions("open", "resident") == []
    with pytest.raises(lc.RoleRefused, match="reporting resident"):
        lc.check("resolved", "dissatisfied", "operator")
    assert lc.check("closed", "dissatisfied", "resident") == "reopened"


def test_the_operator_marks_spam(api: Harness) -> None:
    report(api)
    rid = api.client.get("/api/resident-reports", headers=api.auth("op")).json()[0]["id"]
    assert api.client.post(f"/api/resident-reports/{rid}/spam", headers=api.auth("lead1"),
                           json={}).status_code == 403
    r = api.client.post(f"/api/resident-reports/{rid}/spam", headers=api.auth("op"), json={"reason": "广告"})
    assert r.status_code == 200 and r.json()["spam"] is True
    inc = api.client.get("/api/incidents", headers=api.auth("op")).json()[0]
    assert inc["state"] == "false_alarm"
