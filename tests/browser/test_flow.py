"""End to end in real Chromium against a real api process: an event from a worker becomes an incident the
operator sees live and dispatches; the leader (phone viewport) accepts, arrives and resolves with a photo; the
operator sees it resolved and closes it. Also: the leader offline, the api restarting, a camera going
offline."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import ApiServer, IngestWorker, clip_frames, jpeg

pytestmark = pytest.mark.slow
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1600, "height": 900}


def _context(browser: Any, viewport: dict[str, int], **kw: Any) -> Any:
    ctx = browser.new_context(viewport=viewport, locale="zh-CN", service_workers="block", **kw)
    ctx.set_default_timeout(20000)
    return ctx


def _errors(page: Any) -> list[str]:
    errs: list[str] = []
    def on_error(e: Any) -> None:
        errs.append(str(e))
        print("page error:", e)   # seen at once with -s when a wait times out later

    page.on("pageerror", on_error)
    page.on("requestfailed",
            lambda r: errs.append(f"failed {r.url}") if not r.url.startswith("http://127.0.0.1") else None)
    page.on("request", lambda r: errs.append(f"outside request {r.url}")
            if not re.match(r"^(http|ws)://127\.0\.0\.1|^(data|blob):", r.url) else None)
    return errs


def _login(page: Any, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.fill("#login-form input[name=username]", name)
    page.fill("#login-form input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_selector("#link-dot[data-state=up]")


def _leader_of(server: ApiServer, team_id: int) -> tuple[str, str]:
    key = next(k for k, v in server.seed.team_ids.items() if v == team_id)
    acc = next(a for a in server.seed.accounts if a.team == key)
    return acc.name, acc.password


def _photo(tmp: Path) -> Path:
    """The leader's photo: unlike the camera's snapshot (so a photo in the snapshot slot shows on the
    screenshot)."""
    import cv2

    frame = cv2.flip(clip_frames(1)[0], 1)
    cv2.rectangle(frame, (20, 20), (frame.shape[1] - 20, frame.shape[0] - 20), (0, 160, 240), 12)
    cv2.putText(frame, "PHOTO", (60, 140), cv2.FONT_HERSHEY_SIMPLEX, 3, (0, 160, 240), 8)
    p = tmp / "scene.jpg"
    p.write_bytes(jpeg(frame))
    return p


def _media_id(page: Any, selector: str) -> int:
    src = page.get_attribute(selector, "src") or ""
    m = re.search(r"/api/media/(\d+)", src)
    assert m, f"{selector}: src {src!r} is not a media url"
    return int(m.group(1))


def _incident(server: ApiServer, inc_id: int) -> dict[str, Any]:
    r = httpx.get(f"{server.url}/api/incidents/{inc_id}",
                  headers={"Authorization": f"Bearer {server.token('operator')}"})
    r.raise_for_status()
    out: dict[str, Any] = r.json()
    return out


def _operator_dispatch(page: Any, inc_id: int) -> int:
    page.click(f".incident[data-id='{inc_id}']")
    page.wait_for_selector("#incident-panel .act-dispatch")
    team_id = int(page.get_attribute("#incident-panel .prop.best", "data-team"))
    page.click("#incident-panel .prop.best .act-dispatch")
    page.wait_for_selector(f".incident[data-id='{inc_id}'][data-state=dispatched]")
    return team_id


def test_operator_dispatches_leader_resolves_operator_closes(server: ApiServer, browser: Any, shots: Path,
                                                             tmp_path: Path) -> None:
    op_ctx = _context(browser, DESK)
    op = op_ctx.new_page()
    op_errors = _errors(op)
    name, pw, _ = server.account("operator")
    _login(op, server.url + "/", name, pw)

    worker = IngestWorker(server, camera="square_cam", place="square")
    worker.register()
    worker.heartbeat()
    beating = worker.beat()   # online for the whole test, however slow the machine
    op.wait_for_selector(".cam[data-cam=square_cam][data-state=online]")
    inc_id = worker.event("loitering")["incidents"][0]

    # the incident arrives live (no reload), highlighted as new
    op.wait_for_selector(f".incident.new[data-id='{inc_id}']")
    op.click(f".incident[data-id='{inc_id}']")
    op.wait_for_selector("#incident-panel img.snapshot")
    op.wait_for_function("() => { const v = document.querySelector('#incident-panel video');"
                         " return v && v.readyState >= 2 && v.videoWidth > 0; }")
    assert op.evaluate("() => document.querySelector('#incident-panel img.snapshot').naturalWidth") > 0
    team_id = _operator_dispatch(op, inc_id)
    # the day's numbers are the api's: one open incident (any active state counts)
    stats = httpx.get(f"{server.url}/api/stats/today",
                      headers={"Authorization": f"Bearer {server.token('operator')}"}).json()
    op.wait_for_function("n => document.querySelector('.stat-open .stat-value').textContent === String(n)",
                         arg=stats["open"])
    # the camera sent one frame: its tile shows it (a live view that has not drawn falls back to stills)
    op.wait_for_function("() => document.querySelector('.cam[data-cam=square_cam] img').naturalWidth > 0",
                         timeout=10000)
    op.screenshot(path=str(shots / "control_room.png"))

    leader, leader_pw = _leader_of(server, team_id)
    ph_ctx = _context(browser, PHONE, has_touch=True, is_mobile=True)
    ph = ph_ctx.new_page()
    ph_errors = _errors(ph)
    _login(ph, server.url + "/m/", leader, leader_pw)
    ph.wait_for_selector("#btn-accept")
    assert ph.text_content("#task h2").startswith(f"#{inc_id}")
    ph.screenshot(path=str(shots / "phone_task.png"))
    ph.click("#btn-accept")
    op.wait_for_selector(f".incident[data-id='{inc_id}'][data-state=accepted]")
    ph.click("#btn-arrive")
    op.wait_for_selector(f".incident[data-id='{inc_id}'][data-state=on_site]")
    ph.set_input_files("#photo", str(_photo(tmp_path)))
    ph.fill("#note", "车辆已劝离")
    # a live update re-renders the task card meanwhile: the photo picked and the note typed stay
    ph.click(".tabs button[data-tab=patrol]")
    ph.click(".tabs button[data-tab=task]")
    ph.click("#lang")
    ph.click("#lang")
    assert ph.evaluate("() => document.querySelector('#photo').files.length") == 1
    assert ph.input_value("#note") == "车辆已劝离"
    ph.click("#btn-resolve")
    op.wait_for_selector("#incident-panel #panel-state:has-text('已处置')")

    # the photo reached the operator's panel; then he closes the incident
    op.wait_for_selector("#incident-panel img.photo")
    op.click("#incident-panel button.act-close")
    op.wait_for_function("() => document.querySelector('#panel-state').textContent === '已结案'")
    detail = _incident(server, inc_id)
    assert detail["state"] == "closed"
    actions = [t["action"] for t in detail["timeline"]]
    for a in ("dispatch", "accept", "arrive", "resolve", "close"):
        assert a in actions, actions
    assert any(m["kind"] == "photo" for m in detail["media"])
    # the snapshot slot keeps the camera's snapshot; the leader's photo has its own slot
    kinds = {m["id"]: m["kind"] for m in detail["media"]}
    assert kinds[_media_id(op, "#incident-panel img.snapshot")] == "snapshot"
    assert kinds[_media_id(op, "#incident-panel img.photo")] == "photo"
    op.screenshot(path=str(shots / "control_room_closed.png"))
    beating.set()
    assert not op_errors and not ph_errors, op_errors + ph_errors
    op_ctx.close()
    ph_ctx.close()


def test_leader_offline_resolves_then_syncs(server: ApiServer, browser: Any, shots: Path,
                                            tmp_path: Path) -> None:
    worker = IngestWorker(server, camera="gate_cam", place="gate_south")
    worker.register()
    worker.heartbeat()
    inc_id = worker.event("loitering")["incidents"][0]
    op_ctx = _context(browser, DESK)
    op = op_ctx.new_page()
    name, pw, _ = server.account("operator")
    _login(op, server.url + "/", name, pw)
    op.wait_for_selector(f".incident[data-id='{inc_id}']")
    team_id = _operator_dispatch(op, inc_id)

    leader, leader_pw = _leader_of(server, team_id)
    ph_ctx = _context(browser, PHONE, has_touch=True, is_mobile=True)
    ph = ph_ctx.new_page()
    # The page's second read of its tasks (when the live link comes up) is answered late, after the leader
    # has queued three steps offline: an answer from before the steps must not undo what the page shows.
    held: list[tuple[Any, Any]] = []
    reads = {"n": 0}

    def hold_second_read(route: Any) -> None:
        reads["n"] += 1
        if reads["n"] == 2:
            held.append((route, route.fetch()))
        else:
            route.continue_()

    ph.route("**/api/tasks", hold_second_read)
    _login(ph, server.url + "/m/", leader, leader_pw)
    ph.wait_for_selector("#btn-accept")
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        ph.wait_for_timeout(100)
    assert held, "the live link's refresh did not read the tasks"

    ph_ctx.set_offline(True)
    ph.wait_for_function("() => !navigator.onLine")
    ph.click("#btn-accept")
    ph.wait_for_selector("#btn-arrive")
    ph.click("#btn-arrive")
    ph.set_input_files("#photo", str(_photo(tmp_path)))
    ph.fill("#note", "离线处置")
    ph.click("#btn-resolve")
    ph.wait_for_function("() => document.querySelectorAll('#queue-list li').length === 3")
    assert "3" in ph.text_content("#queue-title")
    route, answer = held[0]
    assert answer.json()[0]["state"] == "dispatched"
    with ph.expect_event("requestfinished", lambda r: r.url.endswith("/api/tasks")):
        route.fulfill(response=answer)
    ph.wait_for_timeout(1000)   # the page reads its outbox before it applies the answer
    ph.unroute("**/api/tasks")
    assert ph.locator("#task-state").text_content() == "已处置"   # shown locally while queued
    ph.wait_for_selector("#link-banner[data-state=offline]")
    assert "网络已断开" in ph.text_content("#link-banner")   # the offline text, not "connecting"
    ph.evaluate("window.scrollTo(0, 0)")
    ph.screenshot(path=str(shots / "phone_offline_queue.png"))
    time.sleep(1.0)
    assert _incident(server, inc_id)["state"] == "dispatched"   # nothing reached the server while offline

    ph_ctx.set_offline(False)
    ph.wait_for_selector("#queue[hidden]", state="attached", timeout=30000)
    detail = _incident(server, inc_id)
    assert detail["state"] == "resolved"
    actions = [t["action"] for t in detail["timeline"]]
    assert actions.index("accept") < actions.index("arrive") < actions.index("resolve")
    assert sum(1 for m in detail["media"] if m["kind"] == "photo") == 1
    assert any(t.get("reason") == "离线处置" for t in detail["timeline"])
    op.select_option("#f-state", "resolved")
    op.wait_for_selector(f".incident[data-id='{inc_id}'][data-state=resolved]")
    op_ctx.close()
    ph_ctx.close()


def test_camera_offline_and_api_restart(server: ApiServer, browser: Any) -> None:
    worker = IngestWorker(server, camera="lobby_cam", place="b1_lobby")
    worker.register()
    worker.heartbeat()
    last_beat = time.monotonic()
    op_ctx = _context(browser, DESK)
    op = op_ctx.new_page()
    name, pw, _ = server.account("operator")
    _login(op, server.url + "/", name, pw)
    op.wait_for_selector(".cam[data-cam=lobby_cam][data-state=online]")
    before = op.locator(".incident").count()

    # the worker stops beating: offline on the wall within 10 s of its last heartbeat
    op.wait_for_selector(".cam[data-cam=lobby_cam][data-state=offline]", timeout=15000)
    assert time.monotonic() - last_beat <= 10.0, (
        f"offline shown {time.monotonic() - last_beat:.1f} s after the last beat"
    )

    # the api restarts: the page says the link is down, reconnects by itself and shows the same state
    server.stop()
    op.wait_for_selector("#link-banner:not([hidden])")
    server.start()
    op.wait_for_selector("#link-dot[data-state=up]", timeout=30000)
    op.wait_for_selector("#link-banner[hidden]", state="attached")
    assert op.locator(".incident").count() == before
    worker.heartbeat()
    op.wait_for_selector(".cam[data-cam=lobby_cam][data-state=online]")
    op_ctx.close()
