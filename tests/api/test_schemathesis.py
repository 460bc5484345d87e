"""schemathesis against the OpenAPI schema, signed in (admin token and a worker key): no 500s, and every
response matches the schema (status codes, content types, headers, bodies, Allow on 405).

Left out: schemathesis' `positive_data_acceptance` (a schema-valid request may still break a business rule:
a leader without a team, a false alarm without a reason, bytes that are not an image: those are clear
4xx by design) and `negative_data_rejection` (pydantic's lax mode accepts e.g. 0 for a datetime)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.services.accounts import make_token
from tests.api.conftest import build, event

pytestmark = pytest.mark.slow

_tmp = Path(tempfile.mkdtemp(prefix="sharpeyes-st-"))
_h = build(f"sqlite:///{_tmp / 'api.db'}", _tmp, site=True)
with _h.client:
    _h.register("cam1")
    _h.post_events(event("st-ev", kind="crowd"))
_ADMIN = make_token(_h.ctx.settings.secret_key, 1, "admin", None, 3600)
schema = schemathesis.openapi.from_asgi("/openapi.json", _h.app)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: Any) -> None:
    if case.path in ("/api/cameras/{camera_id}/live.mjpeg",):
        pytest.skip("an endless stream; covered by its own test")
    headers = {"Authorization": f"Bearer {_ADMIN}", "X-API-Key": _h.worker_key}
    if case.path == "/api/workers/{worker_id}" and case.method == "DELETE":
        pytest.skip("revoking the key would sign the rest of the run out")
    case.call_and_validate(headers=headers, checks=CHECKS, excluded_checks=[positive_data_acceptance,
                                                                            negative_data_rejection])
