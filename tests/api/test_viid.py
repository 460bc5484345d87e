"""GA/T 1400 视图库 endpoint: digest registration, keepalive and offline, records from vendor-style fixtures
into rules, incidents and snapshots; malformed and oversized bodies refused with nothing stored."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from api.db.models import User
from api.errors import ApiError
from api.services.accounts import make_token
from api.services.viid_config import load_viid_config
from tests.api import viid_fixtures as fx
from tests.api.conftest import Harness, build, jpeg_bytes

NVR = "31010400001180000001"        # an NVR sending for the elevator camera
ELEVATOR = "31010400001320000011"   # the elevator camera's APE
LANE = "31010400001320000022"       # a fire-lane camera that registers itself
PW = {NVR: "nvr-secret-1", LANE: "lane-secret-2"}


def viid_config(tmp: Path, keepalive_s: float = 60, max_body: int = 8 * 2**20) -> Path:
    cfg = {
        "viid": {"server_id": "31010400005030000001", "offline_after": 2, "max_body_bytes": max_body,
                 "devices": {NVR: {"password": PW[NVR], "keepalive_s": keepalive_s},
                             LANE: {"password": PW[LANE], "keepalive_s": keepalive_s}}},
        "cameras": {
            "b3_elevator": {"name": "3号楼电梯", "location": {"node": "p1"},
                            "viid": {"device": NVR, "apes": [ELEVATOR],
                                     "rules": [{"objects": ["non_motor_vehicle"], "zone": "car",
                                                "event": "ebike_in_elevator"}]}},
            "lane_north": {"location": {"node": "p3"},
                           "viid": {"apes": [LANE],
                                    "rules": [{"objects": ["motor_vehicle"], "event": "fire_lane_blocked",
                                               "zone": "fire_lane", "min_seconds": 120, "gap_s": 90}]}},
        },
    }
    path = tmp / "viid.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def open_harness(db_url: str, tmp_path: Path, **kw: Any) -> Harness:
    h = build(db_url, tmp_path, site=True, viid_config=viid_config(tmp_path, **kw))
    h.client.__enter__()
    with h.ctx.sessions() as s:
        op = s.scalars(select(User).where(User.name == "op")).one()
        h.tokens["op"] = make_token(h.ctx.settings.secret_key, op.id, op.role, op.team_id, 3600)
    return h


@pytest.fixture
def viid(db_url: str, tmp_path: Path) -> Iterator[Harness]:
    h = open_harness(db_url, tmp_path)
    yield h
    h.client.__exit__(None, None, None)
    h.ctx.engine.dispose()


def register(h: Harness, device: str, password: str | None = None) -> httpx.Response:
    return h.client.post("/VIID/System/Register", json={"RegisterObject": {"DeviceID": device}},
                         auth=httpx.DigestAuth(device, password or PW[device]))


def post(h: Harness, path: str, body: Any, device: str = NVR) -> httpx.Response:
    return h.client.post(f"/VIID/{path}", json=body, headers={"User-Identify": device})


def statuses(r: httpx.Response) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = r.json()["ResponseStatusListObject"]["ResponseStatusObject"]
    return out


def camera_state(h: Harness, cam: str) -> str:
    r = h.client.get(f"/api/cameras/{cam}", headers=h.auth("op"))
    assert r.status_code == 200, r.text
    state: str = r.json()["state"]
    return state


def test_register_wrong_password_is_refused_with_a_digest_challenge(viid: Harness) -> None:
    plain = viid.client.post("/VIID/System/Register", json={"RegisterObject": {"DeviceID": NVR}})
    assert plain.status_code == 401
    assert plain.headers["WWW-Authenticate"].startswith('Digest realm="sharpeyes-viid", qop="auth", nonce=')
    wrong = register(viid, NVR, "not-the-password")
    assert wrong.status_code == 401
    assert "Digest" in wrong.headers["WWW-Authenticate"]
    body = wrong.json()["ResponseStatusObject"]
    assert body["StatusCode"] == 4 and f"wrong password for device {NVR}" in body["StatusString"]
    assert camera_state(viid, "b3_elevator") == "unknown"
    stranger = viid.client.post("/VIID/System/Register", json={"RegisterObject": {"DeviceID": "1" * 20}},
                                auth=httpx.DigestAuth("1" * 20, "x"))
    assert stranger.status_code == 401 and "not registered here" in stranger.text


def test_register_with_the_right_password_is_accepted_and_the_camera_goes_online(viid: Harness) -> None:
    r = register(viid, NVR)
    assert r.status_code == 200, r.text
    status = r.json()["ResponseStatusObject"]
    assert status["StatusCode"] == 0 and status["Id"] == NVR
    assert status["RequestURL"] == "/VIID/System/Register"
    assert len(status["LocalTime"]) == 14
    assert camera_state(viid, "b3_elevator") == "online"
    assert camera_state(viid, "lane_north") == "unknown"      # another device's camera
    # after registering, the device's own requests carry User-Identify (no digest), as devices do
    ka = viid.client.post("/VIID/System/Keepalive", json={"KeepaliveObject": {"DeviceID": NVR}},
                          headers={"User-Identify": NVR})
    assert ka.status_code == 200 and ka.json()["ResponseStatusObject"]["StatusCode"] == 0
    other = viid.client.post("/VIID/System/Keepalive", json={"KeepaliveObject": {"DeviceID": LANE}},
                             headers={"User-Identify": LANE})
    assert other.status_code == 401 and "register first" in other.text
    t = viid.client.get("/VIID/System/Time").json()["SystemTimeObject"]
    assert t["VIIDServerID"] == "31010400005030000001" and len(t["LocalTime"]) == 14
    un = viid.client.post("/VIID/System/UnRegister", json={"UnRegisterObject": {"DeviceID": NVR}},
                          auth=httpx.DigestAuth(NVR, PW[NVR]))
    assert un.status_code == 200 and camera_state(viid, "b3_elevator") == "offline"
    after = post(viid, "NonMotorVehicles", fx.non_motor(ELEVATOR, datetime.now(UTC), [jpeg_bytes()]))
    assert after.status_code == 401


def test_a_device_that_stops_its_keepalives_is_shown_offline(db_url: str, tmp_path: Path) -> None:
    h = open_harness(db_url, tmp_path, keepalive_s=2)     # offline after 2 intervals: 4 s
    try:
        assert register(h, LANE).status_code == 200
        for _ in range(3):
            time.sleep(0.5)
            r = h.client.post("/VIID/System/Keepalive", json={"KeepaliveObject": {"DeviceID": LANE}},
                              headers={"User-Identify": LANE})
            assert r.json()["ResponseStatusObject"]["StatusCode"] == 0
        assert camera_state(h, "lane_north") == "online"
        deadline = time.monotonic() + 20
        while camera_state(h, "lane_north") != "offline" and time.monotonic() < deadline:
            time.sleep(0.2)
        cam = h.client.get("/api/cameras", headers=h.auth("op")).json()
        lane = next(c for c in cam if c["id"] == "lane_north")
        assert lane["state"] == "offline" and "no keepalive" in lane["detail"]
        late = h.client.post("/VIID/System/Keepalive", json={"KeepaliveObject": {"DeviceID": LANE}},
                             headers={"User-Identify": LANE})
        assert late.status_code == 401 and "register" in late.text
        assert register(h, LANE).status_code == 200 and camera_state(h, "lane_north") == "online"
    finally:
        h.client.__exit__(None, None, None)
        h.ctx.engine.dispose()


def incidents(h: Harness) -> list[dict[str, Any]]:
    r = h.client.get("/api/incidents", headers=h.auth("op"))
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


def test_non_motor_vehicle_list_with_two_images_opens_an_ebike_in_elevator_incident(viid: Harness) -> None:
    assert register(viid, NVR).status_code == 200
    t = datetime.now(UTC) - timedelta(seconds=5)
    images = [jpeg_bytes(320, 240, (20, 90, 200)), jpeg_bytes(64, 96, (200, 200, 20))]
    body = fx.non_motor(ELEVATOR, t, images)
    oid = body["NonMotorVehicleListObject"]["NonMotorVehicleObject"][0]["NonMotorVehicleID"]
    r = post(viid, "NonMotorVehicles", body)
    assert r.status_code == 200, r.text
    [status] = statuses(r)
    assert status["Id"] == oid and status["StatusCode"] == 0
    assert status["RequestURL"] == "/VIID/NonMotorVehicles"
    assert "camera b3_elevator" in status["StatusString"]
    assert viid.count("viid_records") == 1 and viid.count("media") == 2
    [inc] = incidents(viid)
    assert inc["event_type"] == "ebike_in_elevator" and inc["camera_id"] == "b3_elevator"
    assert inc["place"] == "p1" and inc["zone"] == "car"
    snap = viid.client.get(inc["snapshot_url"], headers=viid.auth("op"))
    assert snap.status_code == 200 and snap.content in images
    # the same record again (a device's retry) and a new capture of the e-bike 30 s later: one incident
    again = post(viid, "NonMotorVehicles", body)
    assert statuses(again)[0]["StatusCode"] == 0 and "already stored" in statuses(again)[0]["StatusString"]
    later = post(viid, "NonMotorVehicles", fx.non_motor(ELEVATOR, t + timedelta(seconds=30), images[:1],
                                                        serial=2))
    assert statuses(later)[0]["StatusCode"] == 0
    assert viid.count("viid_records") == 2
    assert len(incidents(viid)) == 1 and viid.count("events") == 1


def test_a_plate_staying_at_the_fire_lane_camera_opens_fire_lane_blocked(viid: Harness) -> None:
    assert register(viid, LANE).status_code == 200
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    img = jpeg_bytes(200, 100, (90, 90, 90))
    for i, dt in enumerate((0, 60, 100)):       # 100 s of captures: under min_seconds 120, no incident
        r = post(viid, "MotorVehicles", fx.motor_hik(t0 + timedelta(seconds=dt), "沪A12345", img, i, LANE),
                 device=LANE)
        assert r.status_code == 200 and statuses(r)[0]["StatusCode"] == 0, r.text
    post(viid, "MotorVehicles", fx.motor_hik(t0 + timedelta(seconds=10), "沪B99999", img, 9, LANE),
         device=LANE)
    assert incidents(viid) == []
    r = post(viid, "MotorVehicles", fx.motor_hik(t0 + timedelta(seconds=170), "沪A12345", img, 3, LANE),
             device=LANE)
    assert "event viid-" in statuses(r)[0]["StatusString"]
    post(viid, "MotorVehicles", fx.motor_hik(t0 + timedelta(seconds=230), "沪A12345", img, 4, LANE),
         device=LANE)
    [inc] = incidents(viid)
    assert inc["event_type"] == "fire_lane_blocked" and inc["camera_id"] == "lane_north"
    assert inc["snapshot_url"]
    # a gap longer than gap_s ends the stay: the plate back later starts from zero
    post(viid, "MotorVehicles", fx.motor_hik(t0 + timedelta(seconds=400), "沪A12345", img, 5, LANE),
         device=LANE)
    assert viid.count("events") == 1 and viid.count("viid_records") == 7


def test_faces_and_apes_are_stored_and_answered_per_object(viid: Harness) -> None:
    assert register(viid, NVR).status_code == 200
    r = post(viid, "APEs", fx.apes(ELEVATOR))
    assert statuses(r)[0] == {**statuses(r)[0], "Id": ELEVATOR, "StatusCode": 0}
    assert "camera b3_elevator" in statuses(r)[0]["StatusString"]
    r = post(viid, "Faces", fx.face(ELEVATOR, datetime.now(UTC)))
    assert r.status_code == 200 and statuses(r)[0]["StatusCode"] == 0
    assert viid.count("viid_records") == 1 and viid.count("media") == 0     # by StoragePath only
    assert incidents(viid) == []        # no rule takes faces


def _nothing_stored(h: Harness) -> None:
    assert h.count("viid_records") == 0 and h.count("media") == 0 and h.count("incidents") == 0
    media = h.tmp / "media"
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]


def test_malformed_bodies_are_refused_with_the_standards_status_and_nothing_stored(viid: Harness) -> None:
    assert register(viid, NVR).status_code == 200
    t = datetime.now(UTC)
    r = viid.client.post("/VIID/NonMotorVehicles", content=b'{"NonMotorVehicleListObject": {',
                         headers={"User-Identify": NVR, "Content-Type": "application/VIID+JSON"})
    assert r.status_code == 400 and r.json()["ResponseStatusObject"]["StatusCode"] == 7
    r = post(viid, "NonMotorVehicles", {"MotorVehicleListObject": {}})
    assert r.status_code == 400 and r.json()["ResponseStatusObject"]["StatusCode"] == 8
    assert "NonMotorVehicleListObject" in r.json()["ResponseStatusObject"]["StatusString"]
    good = fx.non_motor(ELEVATOR, t, [jpeg_bytes()], serial=1)
    bad_time = fx.non_motor(ELEVATOR, t, [jpeg_bytes()], serial=2)
    bad_time["NonMotorVehicleListObject"]["NonMotorVehicleObject"][0]["MarkTime"] = "2026-12-01 09:30"
    bad_image = fx.non_motor(ELEVATOR, t, [b"not a jpeg at all"], serial=3)
    objs = [b["NonMotorVehicleListObject"]["NonMotorVehicleObject"][0] for b in (good, bad_time, bad_image)]
    objs[2]["SubImageList"]["SubImageInfoObject"][0]["Data"] = "%%%not base64"
    r = post(viid, "NonMotorVehicles", {"NonMotorVehicleListObject": {"NonMotorVehicleObject": objs}})
    assert r.status_code == 400
    by_id = {s["Id"]: s for s in statuses(r)}
    assert all(s["StatusCode"] == 8 for s in by_id.values())
    assert "MarkTime" in by_id[objs[1]["NonMotorVehicleID"]]["StatusString"]
    assert "not valid base64" in by_id[objs[2]["NonMotorVehicleID"]]["StatusString"]
    assert "not stored" in by_id[objs[0]["NonMotorVehicleID"]]["StatusString"]
    not_image = fx.non_motor(ELEVATOR, t, [b"GIF89a-but-not-really"], serial=4)
    r = post(viid, "NonMotorVehicles", not_image)
    assert r.status_code == 400 and "not an image" in statuses(r)[0]["StatusString"]
    _nothing_stored(viid)


def test_an_oversized_body_is_refused_and_nothing_stored(db_url: str, tmp_path: Path) -> None:
    h = open_harness(db_url, tmp_path, max_body=20_000)
    try:
        assert register(h, NVR).status_code == 200
        big = fx.non_motor(ELEVATOR, datetime.now(UTC), [jpeg_bytes(800, 600, (1, 2, 3)) + b"\0" * 30_000])
        r = post(h, "NonMotorVehicles", big)
        assert r.status_code == 413
        status = r.json()["ResponseStatusObject"]
        assert status["StatusCode"] == 4 and "20000 bytes" in status["StatusString"]
        _nothing_stored(h)
    finally:
        h.client.__exit__(None, None, None)
        h.ctx.engine.dispose()


@pytest.mark.parametrize("change, message", [
    ({"viid": {"devices": {"31 01": {"password": "x"}}}}, "device id '31 01' is not a device id"),
    ({"viid": {"server_id": "3101"}}, "server_id '3101' is not a GA/T 1400 id (20 digits"),
    ({"cameras": {"c": {"viid": {"apes": [ELEVATOR], "rules": [{"objects": ["person"], "event": "x",
                                                                 "min_seconds": 5}]}}}},
     "min_seconds (a plate staying) works on objects: [motor_vehicle] only"),
    ({"cameras": {"c": {"viid": {"apes": [ELEVATOR]}}}}, f"its device {ELEVATOR} is not in viid.devices"),
    ({"cameras": {"c": {"viid": {"apes": [ELEVATOR]}, "colour": 1}}}, "unknown key 'colour'"),
])
def test_config_mistakes_name_the_key_and_the_fix(tmp_path: Path, change: dict[str, Any],
                                                   message: str) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(yaml.safe_dump(change))
    with pytest.raises(ApiError) as err:
        load_viid_config(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_one_camera_config_file_holds_the_video_pipeline_and_the_structured_records(tmp_path: Path) -> None:
    """The worker reads the camera's video keys, the api its `viid` keys: the same file serves both."""
    from vision.config import load_config

    cfg = yaml.safe_load((Path(__file__).resolve().parents[2] / "sample_videos" /
                          "composed_ebike_corridor.yaml").read_text())
    cam = cfg["cameras"]["composed_ebike_corridor"]
    cam["source"] = str(Path(__file__).resolve().parents[2] / "sample_videos" / cam["source"])
    cam["viid"] = {"apes": [ELEVATOR],
                   "rules": [{"objects": ["non_motor_vehicle"], "event": "ebike_in_corridor"}]}
    cfg["viid"] = {"devices": {ELEVATOR: {"password": "pw"}}}
    path = tmp_path / "both.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    assert load_config(path).cameras["composed_ebike_corridor"].zones
    viid = load_viid_config(path)
    assert viid.by_ape == {ELEVATOR: "composed_ebike_corridor"}
    assert viid.places["composed_ebike_corridor"] == "b1_stair"


def test_a_device_cannot_raise_events_for_another_devices_camera(viid: Harness) -> None:
    assert register(viid, LANE).status_code == 200
    r = post(viid, "NonMotorVehicles", fx.non_motor(ELEVATOR, datetime.now(UTC), [jpeg_bytes()]), device=LANE)
    assert r.status_code == 200 and "mapped to no camera" in statuses(r)[0]["StatusString"]
    assert viid.count("viid_records") == 1 and incidents(viid) == []


@pytest.mark.parametrize("raw, code", [
    (b'{"NonMotorVehicleListObject": {"NonMotorVehicleObject": [{"LeftTopX": NaN}]}}', 7),
    (b"[" * 100_000 + b"]" * 100_000, 7),
    (b'{"NonMotorVehicleListObject": {"NonMotorVehicleObject": "x"}}', 8),
])
def test_hostile_json_is_refused_not_a_server_error(viid: Harness, raw: bytes, code: int) -> None:
    assert register(viid, NVR).status_code == 200
    r = viid.client.post("/VIID/NonMotorVehicles", content=raw, headers={"User-Identify": NVR})
    assert r.status_code == 400 and r.json()["ResponseStatusObject"]["StatusCode"] == code
    _nothing_stored(viid)


def test_a_huge_box_value_is_refused_per_object(viid: Harness) -> None:
    assert register(viid, NVR).status_code == 200
    body = fx.non_motor(ELEVATOR, datetime.now(UTC), [jpeg_bytes()])
    body["NonMotorVehicleListObject"]["NonMotorVehicleObject"][0]["RightBtmX"] = 10**400
    r = post(viid, "NonMotorVehicles", body)
    assert r.status_code == 400 and "RightBtmX" in statuses(r)[0]["StatusString"]
    _nothing_stored(viid)


def _md5(s: str) -> str:
    import hashlib

    return hashlib.md5(s.encode()).hexdigest()


def _challenged(h: Harness) -> str:
    """The nonce of the challenge a Register without credentials gets."""
    first = h.client.post("/VIID/System/Register", json={"RegisterObject": {"DeviceID": NVR}})
    return first.headers["WWW-Authenticate"].split('nonce="')[1].split('"')[0]


def _digest(nonce: str, uri: str, nc: str = "00000001") -> str:
    """NVR's digest Authorization header for a POST to `uri`, answering the challenge's `nonce`."""
    ha1 = _md5(f"{NVR}:sharpeyes-viid:{PW[NVR]}")
    resp = _md5(f"{ha1}:{nonce}:{nc}:abc:auth:{_md5(f'POST:{uri}')}")
    return (f'Digest username="{NVR}", realm="sharpeyes-viid", nonce="{nonce}", '
            f'uri="{uri}", qop=auth, nc={nc}, cnonce="abc", response="{resp}"')


def test_digest_credentials_for_another_path_are_refused(viid: Harness) -> None:
    nonce = _challenged(viid)
    header = _digest(nonce, "/VIID/System/Keepalive")
    r = viid.client.post("/VIID/System/Register", json={"RegisterObject": {"DeviceID": NVR}},
                         headers={"Authorization": header})
    assert r.status_code == 401 and "not this request's path" in r.text
    r = viid.client.post("/VIID/System/Register", json={"RegisterObject": {"DeviceID": NVR}},
                         headers={"Authorization": _digest(nonce, "/VIID/System/Register")})
    assert r.status_code == 200, r.text


def test_vendor_quirks_a_bare_object_and_a_data_url_image_are_read(viid: Harness) -> None:
    """Some devices send the object bare instead of in a list, and the image as a data: URL."""
    assert register(viid, NVR).status_code == 200
    body = fx.non_motor(ELEVATOR, datetime.now(UTC), [jpeg_bytes()])
    obj = body["NonMotorVehicleListObject"]["NonMotorVehicleObject"][0]
    img = obj["SubImageList"]["SubImageInfoObject"][0]
    img["Data"] = "data:image/jpeg;base64," + img["Data"]
    body["NonMotorVehicleListObject"]["NonMotorVehicleObject"] = obj
    r = post(viid, "NonMotorVehicles", body)
    assert r.status_code == 200 and statuses(r)[0]["StatusCode"] == 0, r.text
    assert viid.count("media") == 1 and [i["event_type"] for i in incidents(viid)] == ["ebike_in_elevator"]
    now = datetime.now(UTC)
    one = {"PersonID": fx.object_id(ELEVATOR, now, 7, "01"), "DeviceID": ELEVATOR,
           "LocationMarkTime": fx.stamp(now)}
    person = {"PersonListObject": {"PersonObject": [one]}}
    r = post(viid, "Persons", person)
    assert r.status_code == 200 and statuses(r)[0]["StatusCode"] == 0
    assert viid.count("viid_records") == 2


def test_repeated_wrong_passwords_are_slowed_down(viid: Harness) -> None:
    for _ in range(viid.ctx.settings.login_attempts_per_minute):
        assert register(viid, NVR, "guess").status_code == 401
    r = register(viid, NVR)         # even the right password waits out the window
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.json()["ResponseStatusObject"]["StatusCode"] == 2
    assert viid.count("audit_log") >= viid.ctx.settings.login_attempts_per_minute


def test_the_control_room_hears_a_device_register_and_its_record_open_an_incident(viid: Harness) -> None:
    with viid.client.websocket_connect(f"/ws?token={viid.tokens['op']}") as ws:
        while ws.receive_json()["topic"] != "ready":
            pass
        assert register(viid, NVR).status_code == 200
        msg = ws.receive_json()
        assert msg["topic"] == "cameras/b3_elevator/state" and msg["payload"]["state"] == "online"
        post(viid, "NonMotorVehicles", fx.non_motor(ELEVATOR, datetime.now(UTC), [jpeg_bytes()]))
        incs: list[dict[str, Any]] = []
        while not (incs and incs[-1]["snapshot_url"]) and len(incs) < 5:   # opened, dispatched, its snapshot
            m = ws.receive_json()
            if m["topic"] == "incidents":
                incs.append(m["payload"])
        assert incs[-1]["event_type"] == "ebike_in_elevator" and incs[-1]["snapshot_url"]


def test_a_device_set_to_a_short_id_in_the_field_works(tmp_path: Path) -> None:
    """The standard's ids are 20 digits, but devices are found set to e.g. "001": accepted too."""
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump({"viid": {"devices": {"001": {"password": "pw"}}},
                                    "cameras": {"gate": {"viid": {"apes": ["001"], "rules": [
                                        {"objects": ["motor_vehicle"], "event": "car_at_gate"}]}}}}))
    h = build(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, viid_config=path)
    with h.client:
        r = h.client.post("/VIID/System/Register", json={"RegisterObject": {"DeviceID": "001"}},
                          auth=httpx.DigestAuth("001", "pw"))
        assert r.status_code == 200, r.text
        body = fx.motor_hik(datetime.now(UTC), "浙B12345", jpeg_bytes(), 1, "001")
        body["MotorVehicleListObject"]["MotorVehicleObject"][0]["MotorVehicleID"] = "001-20261201-0001"
        r = h.client.post("/VIID/MotorVehicles", json=body, headers={"User-Identify": "001"})
        assert r.status_code == 200 and "camera gate" in statuses(r)[0]["StatusString"], r.text
        assert h.count("incidents") == 1
    h.ctx.engine.dispose()


def test_old_records_go_but_an_incidents_snapshots_stay(viid: Harness) -> None:
    from api.db.models import Media, ViidRecord
    from api.services import viid_records

    assert register(viid, NVR).status_code == 200
    t = datetime.now(UTC)
    post(viid, "NonMotorVehicles", fx.non_motor(ELEVATOR, t, [jpeg_bytes()], serial=1))   # opens an incident
    post(viid, "NonMotorVehicles", fx.non_motor(ELEVATOR, t, [jpeg_bytes(8, 8)], serial=2))   # a repeat
    post(viid, "Faces", fx.face(ELEVATOR, t))
    post(viid, "NonMotorVehicles", fx.non_motor("31010400001320000099", t, [jpeg_bytes(9, 9)], serial=3))
    with viid.ctx.sessions() as s:
        loose = s.scalars(select(Media).where(Media.event_id.is_(None))).one()      # the unmapped APE's
        kept = [m.path for m in s.scalars(select(Media).where(Media.event_id.is_not(None)))]
        for r in s.scalars(select(ViidRecord)):
            r.received_at = t - timedelta(days=31)
        s.commit()
    assert viid.ctx.media.resolve(loose.path) is not None and len(kept) == 2
    assert viid_records.prune(viid.ctx.viid) == 4
    assert viid.count("viid_records") == 0 and viid.count("media") == 2
    assert viid.ctx.media.resolve(loose.path) is None
    assert all(viid.ctx.media.resolve(p) is not None for p in kept)
    [inc] = incidents(viid)
    assert viid.client.get(inc["snapshot_url"], headers=viid.auth("op")).status_code == 200


def test_a_replayed_register_is_refused_and_a_fresh_one_accepted(viid: Harness) -> None:
    """A captured Register, sent again (from anywhere) within the nonce's lifetime, must not register the
    sender: the same nonce, cnonce and nc are good once. The device itself answers the new challenge."""
    nonce = _challenged(viid)
    reg = "/VIID/System/Register"
    header = _digest(nonce, reg)
    body = {"RegisterObject": {"DeviceID": NVR}}
    assert viid.client.post(reg, json=body, headers={"Authorization": header}).status_code == 200
    again = viid.client.post(reg, json=body, headers={"Authorization": header})
    assert again.status_code == 401 and "used already" in again.text
    assert "stale=true" in again.headers["WWW-Authenticate"]   # an honest device retries with the new nonce
    header2 = _digest(nonce, reg, nc="00000002")
    assert viid.client.post(reg, json=body, headers={"Authorization": header2}).status_code == 200
    assert register(viid, NVR).status_code == 200
