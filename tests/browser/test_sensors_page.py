"""Sensors in the control room, real Chromium against a real api process: a 关爱 household's water meter
leaks (readings posted over HTTP as a device would), the incident's panel shows the household's contact and
the 48 h chart; a parking zone's samples show as free spaces."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import ApiServer
from tests.browser.test_flow import DESK, _context, _errors, _login

pytestmark = pytest.mark.slow
KEY = "browser-device-key-0123456789"


def test_care_incident_panel_and_parking_tile(server: ApiServer, browser: Any, shots: Path) -> None:
    op_h = {"Authorization": f"Bearer {server.token('operator')}"}
    r = httpx.post(f"{server.url}/api/sensors/households", headers=op_h, json={
        "id": "b3-1101", "name": "张奶奶", "place": "b3_stair", "care": True, "contact_name": "张丽",
        "contact_phone": "13800000003"})
    assert r.status_code == 201, r.text
    r = httpx.post(f"{server.url}/api/sensors/devices", headers=op_h, json={
        "id": "wm-b3-1101", "kind": "water_meter", "place": "b3_stair", "household": "b3-1101", "key": KEY})
    assert r.status_code == 201, r.text
    now = datetime.now(UTC)
    incidents: list[int] = []
    for i in range(21):    # 2 L every quarter hour for 5 h: the water never stops
        at = now - timedelta(minutes=15 * (20 - i))
        r = httpx.post(f"{server.url}/api/sensors/wm-b3-1101/reading", headers={"X-Device-Key": KEY},
                       json={"time": at.isoformat(), "value": 500 + 2 * i})
        assert r.status_code == 202, r.text
        incidents += r.json()["incidents"]
    assert len(incidents) == 1
    wk = {"X-API-Key": server.seed.worker_key}
    r = httpx.post(f"{server.url}/api/ingest/cameras", headers=wk,
                   json=[{"id": "lot_cam", "name": "北停车场", "place": "gate_south", "zones": {}}])
    assert r.status_code == 200, r.text
    r = httpx.post(f"{server.url}/api/ingest/occupancy", headers=wk, json=[
        {"camera": "lot_cam", "zone": "north", "t": 0, "wall_time": time.time(), "count": 9, "capacity": 12}])
    assert r.status_code == 200, r.text

    ctx = _context(browser, DESK)
    page = ctx.new_page()
    errors = _errors(page)
    name, pw, _ = server.account("operator")
    _login(page, server.url + "/", name, pw)
    tile = page.wait_for_selector(".stat-parking")
    assert "3/12" in tile.inner_text()
    page.click(f".incident[data-id='{incidents[0]}']")
    care = page.wait_for_selector("#incident-panel .care")
    text = care.inner_text()
    assert "张奶奶" in text and "张丽" in text and "13800000003" in text
    bars = page.query_selector_all("#incident-panel .care-chart svg rect")
    assert len(bars) >= 48
    page.screenshot(path=str(shots / "control_room_care_leak.png"))
    assert errors == []
    ctx.close()
