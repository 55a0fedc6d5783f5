"""Schemathesis against the API's own /openapi.json: no 5xx, and every answer matches the document
(status code, content type, body schema), for a bounded number of generated requests per operation."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from qhse.api.app import create_app
from tests.api_fixtures import bearer, make_world, token

EXAMPLES = 12  # per operation: the whole test stays well under a minute
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_app(engine):
    return create_app(engine)


@pytest.fixture(scope="module")
def api_headers(engine):
    world = make_world(engine)
    return bearer(token(engine, f"schema-{uuid.uuid4().hex[:8]}", "admin", [world.plant.site]))


def test_the_api_keeps_to_its_own_openapi_document(api_app, api_headers):
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app)
    failures, ran = [], 0
    for result in schema.get_all_operations():
        op = result.ok()

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(headers=api_headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:1500]}")
        ran += 1
    assert ran >= 20
    assert failures == [], "\n\n".join(failures)
