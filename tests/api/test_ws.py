"""Websocket: sign-in by token, replay on connect, live messages, and a leader sees only his team's tasks."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.api.conftest import Harness, event


def _until_ready(ws: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        msg = ws.receive_json()
        if msg["topic"] == "ready":
            assert msg["payload"]["replayed"] == len(out)
            return out
        out.append(msg)


def test_replay_live_and_rights(api: Harness) -> None:
    api.register("cam1")
    first = int(api.post_events(event("a", kind="crowd")).json()["incidents"][0])
    with api.client.websocket_connect(f"/ws?token={api.tokens['op']}") as op_ws, \
            api.client.websocket_connect(f"/ws?token={api.tokens['lead1']}") as l1, \
            api.client.websocket_connect(f"/ws?token={api.tokens['lead2']}") as l2:
        replay = _until_ready(op_ws)
        topics = {m["topic"] for m in replay}
        assert {"incidents", "teams", "cameras/cam1/state"} <= topics
        assert [m["payload"]["id"] for m in replay if m["topic"] == "incidents"] == [first]
        assert {m["topic"] for m in _until_ready(l1)} == {"teams"}       # no incidents for a leader
        _until_ready(l2)
        r = api.client.post(f"/api/incidents/{first}/actions", headers=api.auth("op"),
                            json={"action": "dispatch", "team_id": api.teams["t1"]})
        assert r.status_code == 200
        msg = op_ws.receive_json()
        assert msg["topic"] == "incidents" and msg["payload"]["state"] == "dispatched"
        got = [l1.receive_json() for _ in range(2)]
        assert {m["topic"] for m in got} == {"tasks", "teams"}
        task = next(m for m in got if m["topic"] == "tasks")
        assert task["payload"]["id"] == first and task["payload"]["team_id"] == api.teams["t1"]
        # lead2 got nothing of it: the next thing he sees is his own team's change
        api.client.patch(f"/api/teams/{api.teams['t2']}/status", headers=api.auth("lead2"),
                         json={"status": "on_patrol"})
        nxt = l2.receive_json()
        assert nxt["topic"] == "teams" and nxt["payload"]["id"] == api.teams["t2"]
        # an ingested event reaches the control room live
        second = api.post_events(event("b", kind="loitering", zone="gate")).json()["incidents"][0]
        msg = op_ws.receive_json()
        while not (msg["topic"] == "incidents" and msg["payload"]["id"] == second):
            assert msg["topic"] in ("tasks", "teams")     # what the dispatch above sent before
            msg = op_ws.receive_json()
        assert msg["payload"]["state"] == "open" and msg["payload"]["event_count"] == 1
    # a reconnecting leader gets his task in the replay
    with api.client.websocket_connect(f"/ws?token={api.tokens['lead1']}") as l1:
        tasks = [m for m in _until_ready(l1) if m["topic"] == "tasks"]
        assert [m["payload"]["id"] for m in tasks] == [first]


def test_bad_token_is_closed(api: Harness) -> None:
    with pytest.raises(WebSocketDisconnect) as info:
        with api.client.websocket_connect("/ws?token=nope") as ws:
            ws.receive_json()
    assert info.value.code == 4401
