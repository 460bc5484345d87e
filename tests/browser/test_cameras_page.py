"""The cameras page in Chromium against a real api and a real `sharpeyes worker --from-api` (real
detector): add a camera from a sample clip, draw a zone and an object mask, attach a presence rule, save;
events from that zone arrive within 15 s; the zone is moved and only that camera is restarted in the worker;
bad input is refused at its field with nothing saved."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.demo.run import ADMIN, OPERATOR
from tests.browser.harness import ROOT, ApiServer
from vision.config import parse_config

pytestmark = pytest.mark.slow
CLIP = ROOT / "sample_videos" / "vtest.avi"
OTHER = {"cameras": {"other": {
    "source": str(CLIP), "detect": {"fps": 1},
    "zones": {"all": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                      "rules": [{"kind": "crowd", "labels": ["person"], "min_count": 40, "min_seconds": 5,
                                 "event": "big_crowd"}]}}}}}


def _token(server: ApiServer, who: tuple[str, str]) -> dict[str, str]:
    r = httpx.post(f"{server.url}/api/auth/login", json={"username": who[0], "password": who[1]})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def worker(server: ApiServer) -> Iterator[Path]:
    """`sharpeyes worker --from-api` with one camera already configured (it must never be restarted)."""
    admin = _token(server, ADMIN)
    r = httpx.post(f"{server.url}/api/camera-configs/import", content=yaml.safe_dump(OTHER),
                   headers={**admin, "Content-Type": "application/yaml"})
    assert r.status_code == 200, r.text
    log_path = server.data / "worker.log"
    log = open(log_path, "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "api.cli.main", "worker", "--from-api",
                             "--api", server.url, "--key", server.seed.worker_key, "--loop",
                             "--outbox", str(server.data / "outbox.db")],
                            cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT)
    try:
        yield log_path
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait(what: Any, timeout: float) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(0.3)
    return None


def _click_at(page: Any, box: dict[str, float], points: list[tuple[float, float]]) -> None:
    for x, y in points:
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])


def test_add_a_camera_draw_a_zone_and_mask_and_get_its_events(server: ApiServer, worker: Path, browser: Any,
                                                               shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1600, "height": 1200}, locale="zh-CN",
                              service_workers="block")
    ctx.set_default_timeout(20000)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/cameras.html")
    page.fill("#login-form input[name=username]", ADMIN[0])
    page.fill("#login-form input[name=password]", ADMIN[1])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#cam-table tr[data-cam=other]")

    page.click("#cam-add")
    page.fill("#ed-name", "lobby")
    # a source that does not open: the decoder's error at the source field, nothing saved
    page.fill("#ed-source", str(ROOT / "sample_videos" / "no_such_clip.mp4"))
    page.click("#ed-probe")
    page.wait_for_selector("#ed-source.need")
    assert "does not exist" in page.inner_text("label.wide .field-error")
    page.fill("#ed-source", str(CLIP))
    page.click("#ed-probe")
    page.wait_for_selector("#probe-msg:has-text('768')")
    page.wait_for_selector("#still[src^='data:image/jpeg']")
    page.fill("#ed-fps", "3")
    page.fill("#ed-detect-source", str(CLIP))   # its sub-stream (here the same clip): what the worker reads

    page.locator("#overlay").scroll_into_view_if_needed()
    box = page.locator("#overlay").bounding_box()
    page.click("#tool-zone")
    _click_at(page, box, [(0.05, 0.35), (0.95, 0.35), (0.95, 0.98), (0.05, 0.98)])
    page.click("#tool-finish")
    page.click(".shape-card[data-kind=zone] [data-act=add-rule]")
    page.select_option('[data-field="zones.zone1.rules.0.labels"]', ["person"])
    page.fill('[data-field="zones.zone1.rules.0.min_seconds"]', "1")
    page.fill('[data-field="zones.zone1.rules.0.event"]', "person_in_lobby")
    page.click("#tool-objmask")
    _click_at(page, box, [(0.0, 0.0), (0.2, 0.0), (0.2, 0.15)])
    page.click("#tool-finish")
    page.screenshot(path=str(shots / "cameras_zone_editor.png"))
    page.click("#ed-save")
    page.wait_for_selector("#ed-saved:not(:empty)")
    saved_at = time.monotonic()
    assert not page.inner_text("#ed-error")

    admin = _token(server, ADMIN)
    cfg = httpx.get(f"{server.url}/api/camera-configs/lobby", headers=admin).json()
    assert cfg["revision"] == 1 and cfg["config"]["detect_source"] == str(CLIP)
    zone = cfg["config"]["zones"]["zone1"]
    assert zone["rules"] == [{"kind": "presence", "event": "person_in_lobby", "labels": ["person"],
                              "min_seconds": 1.0}]
    assert abs(zone["polygon"][0][0] - 0.05) < 0.01 and abs(zone["polygon"][2][1] - 0.98) < 0.01
    assert len(cfg["config"]["objects"]["mask"]) == 1
    # the page's camera exports as the contract, and the worker's loader takes it
    text = httpx.get(f"{server.url}/api/camera-configs/export.yaml?camera=lobby", headers=admin).text
    doc = yaml.safe_load(text)
    assert doc == {"cameras": {"lobby": cfg["config"]}}
    parse_config(doc, server.data / "export.yaml")

    op = _token(server, OPERATOR)

    def lobby_incidents() -> list[dict[str, Any]]:
        items = httpx.get(f"{server.url}/api/incidents?camera_id=lobby", headers=op).json()
        return [i for i in items if i.get("camera_id") == "lobby" and i.get("zone") == "zone1"]

    assert _wait(lobby_incidents, 15.0), f"no event from zone1 in 15 s; worker: {worker.read_text()[-3000:]}"
    first_event_s = time.monotonic() - saved_at
    print(f"first event from the page's zone {first_event_s:.1f} s after saving")

    # the debug view: boxes, ids, zones, masks, motion and rule counts, about once a second while open
    page.click("#cam-table tr[data-cam=lobby] [data-act=debug]")
    page.wait_for_selector("#debug-img[data-ok='1']", timeout=15000)
    page.screenshot(path=str(shots / "cameras_debug_view.png"))
    page.click("#debug-close")

    # move the zone: drag it by its body; only that camera restarts in the worker
    page.wait_for_selector("#cam-table tr[data-cam=lobby]")
    page.click(".shape-card[data-kind=zone] button:not([data-act])")    # select
    page.locator("#overlay").scroll_into_view_if_needed()
    box = page.locator("#overlay").bounding_box()
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.6 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"], steps=5)
    page.mouse.up()
    page.click("#ed-save")
    page.wait_for_selector("#ed-saved:has-text('2')")
    cfg = httpx.get(f"{server.url}/api/camera-configs/lobby", headers=admin).json()
    assert cfg["revision"] == 2 and cfg["config"]["zones"]["zone1"]["polygon"][0][1] < 0.3
    hist = httpx.get(f"{server.url}/api/camera-configs/lobby/history", headers=admin).json()
    assert hist[0]["changed"] == ["zones.zone1.polygon"] and hist[0]["actor"] == ADMIN[0]
    restarted = _wait(lambda: re.findall(r"camera (\w+) restarted", worker.read_text()), 10.0)
    assert restarted == ["lobby"], worker.read_text()[-3000:]

    # a self-crossing zone: refused at that zone, nothing saved
    page.click("#tool-zone")
    _click_at(page, box, [(0.1, 0.1), (0.3, 0.3), (0.3, 0.1), (0.1, 0.3)])
    page.click("#tool-finish")
    page.click(".shape-card[data-field='zones.zone2.polygon'] [data-act=add-rule]")
    page.select_option('[data-field="zones.zone2.rules.0.labels"]', ["person"])
    page.fill('[data-field="zones.zone2.rules.0.min_seconds"]', "1")
    page.fill('[data-field="zones.zone2.rules.0.event"]', "x")
    page.click("#ed-save")
    card = ".shape-card[data-field='zones.zone2.polygon']"
    page.wait_for_selector(f"{card} .field-error:text('crosses itself')")
    page.screenshot(path=str(shots / "cameras_field_error.png"))
    assert httpx.get(f"{server.url}/api/camera-configs/lobby", headers=admin).json()["revision"] == 2
    assert not errors, errors
    ctx.close()


def test_imported_sample_configs_show_their_zones_in_the_editor(server: ApiServer, browser: Any) -> None:
    admin = _token(server, ADMIN)
    cases = ["fire_lane", "ebike_corridor", "left_object"]
    files = {}
    for case in cases:
        path = ROOT / "sample_videos" / "cases" / case / "camera.yaml"
        doc = yaml.safe_load(path.read_text())
        for cam in doc["cameras"].values():      # the clip from here, so the still shows
            cam["source"] = str((path.parent / cam["source"]).resolve())
        r = httpx.post(f"{server.url}/api/camera-configs/import", content=yaml.safe_dump(doc),
                       headers={**admin, "Content-Type": "application/yaml"})
        assert r.status_code == 200, r.text
        files.update(doc["cameras"])
    ctx = browser.new_context(viewport={"width": 1600, "height": 1200}, service_workers="block")
    ctx.set_default_timeout(20000)
    page = ctx.new_page()
    page.goto(f"{server.url}/cameras.html")
    page.fill("#login-form input[name=username]", ADMIN[0])
    page.fill("#login-form input[name=password]", ADMIN[1])
    page.click("#login-form button[type=submit]")
    # its export imported through the page: nothing changes (a round trip), the list says how many
    path = server.data / "fire_lane.yaml"
    path.write_text(httpx.get(f"{server.url}/api/camera-configs/export.yaml?camera=composed_fire_lane",
                              headers=admin).text)
    page.wait_for_selector("#cam-table tr[data-cam=composed_fire_lane]")
    page.set_input_files("#cam-import", str(path))
    page.wait_for_selector("#list-error:has-text('1')")
    hist = httpx.get(f"{server.url}/api/camera-configs/composed_fire_lane/history", headers=admin).json()
    assert [h["revision"] for h in hist] == [1]
    for name, cam in files.items():
        page.click(f"#cam-table tr[data-cam={name}] [data-act=edit]")
        page.wait_for_selector(f"#ed-title:has-text('{name}')")
        page.wait_for_selector("#still[src*='still.jpg']")
        drawn = page.eval_on_selector_all(
            "#overlay polygon[data-kind=zone]",
            "els => els.map(e => [e.dataset.name, e.getAttribute('points'), "
            "e.ownerSVGElement.getAttribute('viewBox')])")
        assert sorted(d[0] for d in drawn) == sorted(cam["zones"]), name
        for zone, points, box in drawn:
            w, h = (float(v) for v in box.split()[2:])
            got = [[float(a) / w, float(b) / h] for a, b in (p.split(",") for p in points.split())]
            want = cam["zones"][zone]["polygon"]
            assert len(got) == len(want) and all(abs(g - x) < 1e-6 for gp, wp in zip(got, want, strict=True)
                                                 for g, x in zip(gp, wp, strict=True)), (name, zone)
    ctx.close()


def test_a_camera_added_by_onvif_offers_its_streams(server: ApiServer, browser: Any) -> None:
    from tests.api.test_onvif import virtual_onvif_camera

    with virtual_onvif_camera() as port:
        ctx = browser.new_context(viewport={"width": 1600, "height": 1200}, service_workers="block")
        ctx.set_default_timeout(20000)
        page = ctx.new_page()
        page.goto(f"{server.url}/cameras.html")
        page.fill("#login-form input[name=username]", ADMIN[0])
        page.fill("#login-form input[name=password]", ADMIN[1])
        page.click("#login-form button[type=submit]")
        page.click("#cam-add")
        page.click("#onvif summary")
        page.fill("#onvif-host", "127.0.0.1")
        page.fill("#onvif-port", str(port))
        page.fill("#onvif-user", "admin")
        page.fill("#onvif-pass", "wrong")
        page.click("#onvif-read")
        page.wait_for_selector("#onvif-pass.need")
        page.fill("#onvif-pass", "s3cret!")
        page.click("#onvif-read")
        page.wait_for_selector("#onvif-streams:not([hidden]) option[value*='video_main']", state="attached")
        # the smaller of its two profiles is offered as the detect sub-stream
        assert page.input_value("#ed-detect-source") == "rtsp://admin:s3cret%21@127.0.0.1:8554/video_sub"
        assert page.input_value("#onvif-detect") == "rtsp://admin:s3cret%21@127.0.0.1:8554/video_sub"
        page.select_option("#onvif-streams", "rtsp://admin:s3cret%21@127.0.0.1:8554/video_main")
        assert page.input_value("#ed-source") == "rtsp://admin:s3cret%21@127.0.0.1:8554/video_main"
        # nothing streams there: trying the source shows the decoder's error at the source field
        page.wait_for_selector("#ed-source.need")
        ctx.close()
