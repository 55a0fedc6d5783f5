"""The HTTP API end to end on a real PostgreSQL: tokens, site scope, readings batches, audit, problems."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from qhse.api.app import create_app
from qhse.services import actors, api_tokens
from tests.actor_fixtures import act
from tests.api_fixtures import bearer, make_world, token
from tests.ingest_fixtures import now_ms

PROBLEM = "application/problem+json"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def worlds(engine):
    return make_world(engine), make_world(engine)


@pytest.fixture(scope="module")
def client(engine):
    with TestClient(create_app(engine)) as c:
        yield c


def test_a_token_for_one_site_gets_404_for_another_sites_ids(engine, client, worlds):
    mine, other = worlds
    h = bearer(token(engine, _name("pm"), "plant_manager", [mine.plant.site]))
    for path in (f"/hazards/{other.hazard_id}", f"/alarms/{other.alarm_id}", f"/vision-events/{other.event_id}"):
        r = client.get(path, headers=h)
        assert r.status_code == 404, (path, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["status"] == 404
    # ... and the same ids of its own site are there
    for path in (f"/hazards/{mine.hazard_id}", f"/alarms/{mine.alarm_id}", f"/vision-events/{mine.event_id}"):
        assert client.get(path, headers=h).status_code == 200, path
    # writes on another site's ids are 404 too, and change nothing
    assert client.post(f"/alarms/{other.alarm_id}/acknowledge", headers=h, json={}).status_code == 404
    assert client.post(f"/vision-events/{other.event_id}/review", headers=h,
                       json={"decision": "confirmed"}).status_code == 404
    assert client.post(f"/hazards/{other.hazard_id}/transition", headers=h,
                       json={"to_status": "rejected", "reason": "not ours"}).status_code == 404
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT acknowledged_at FROM alarm WHERE id = :i"),
                            {"i": other.alarm_id}).scalar() is None
        assert conn.execute(sa.text("SELECT review_status FROM vision_event WHERE id = :i"),
                            {"i": other.event_id}).scalar() == "new"
    # lists hold only the token's site
    for path in ("/alarms", "/hazards", "/vision-events", "/sites", "/sensors"):
        items = client.get(path, headers=h, params={"limit": 1000}).json()["items"]
        assert items and {i.get("site_id", i.get("id")) for i in items} == {mine.plant.site_id}, path


def test_expired_revoked_missing_and_unknown_tokens_get_401(engine, client, worlds):
    mine, _ = worlds
    expired_name = _name("old")
    expired = token(engine, expired_name, "admin", [mine.plant.site], expires_days=1)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_token SET expires_at = now() - interval '1 second' WHERE name = :n"),
                     {"n": expired_name})
    revoked_name = _name("gone")
    revoked = token(engine, revoked_name, "admin", [mine.plant.site])
    assert client.get("/sites", headers=bearer(revoked)).status_code == 200
    api_tokens.revoke(engine, actors.system("tests"), revoked_name)
    for headers in (bearer(expired), bearer(revoked), bearer("qhse_not-a-token"), {}):
        r = client.get(f"/hazards/{mine.hazard_id}", headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["field"] == "header.authorization"
    # a browser session cookie is no API token
    r = client.get("/sites", headers={"Cookie": "qhse_session=x"})
    assert r.status_code == 401


def test_a_readings_batch_stores_the_good_ones_and_returns_the_bad_ones(engine, client, worlds):
    mine, other = worlds
    h = bearer(token(engine, _name("mes"), "admin", [mine.plant.site]))
    s = mine.plant.sensors["voc"]
    t = now_ms() - 60_000
    rows = [
        {"sensor": s.code, "ts": t, "value": (s.lo + s.hi) / 2, "unit": s.unit},          # good
        {"sensor": s.code, "ts": t + 1000, "value": s.hi + 1000, "unit": s.unit},          # out of range
        {"sensor": s.code, "ts": t + 2000, "value": 1.0, "unit": "furlongs"},             # wrong unit
        {"sensor": "NO-SUCH-SENSOR", "ts": t, "value": 1.0, "unit": s.unit},              # unknown
        {"sensor": other.plant.sensors["voc"].code, "ts": t, "value": 1.0,
         "unit": other.plant.sensors["voc"].unit},                                        # another site's
        {"sensor": s.code, "ts": t + 3000, "value": "high", "unit": s.unit},              # not a number
        {"sensor": s.code, "ts": t - 30 * 86_400_000, "value": 1.0, "unit": s.unit},     # far too old
        {"sensor": s.code, "ts": t + 4000, "value": s.lo, "unit": s.unit, "quality": 1},  # good
    ]
    r = client.post("/readings", headers=h, json={"readings": rows})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["received"], out["stored"], out["rejected"]) == (8, 2, 6)
    reasons = {b["index"]: (b["reason"], b["field"]) for b in out["bad"]}
    assert reasons == {
        1: ("value_out_of_range", "body.readings.1.value"),
        2: ("wrong_unit", "body.readings.2.unit"),
        3: ("unknown_sensor", "body.readings.3.sensor"),
        4: ("unknown_sensor", "body.readings.4.sensor"),
        5: ("invalid_payload", "body.readings.5.value"),
        6: ("ts_out_of_range", "body.readings.6.ts"),
    }
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM sensor_reading WHERE sensor_id = :s"), {"s": s.id}).scalar()
        dead = conn.execute(sa.text("SELECT count(*) FROM dead_letter WHERE source = 'api' AND received_at > "
                                    "now() - interval '1 minute' AND (topic LIKE :t OR topic LIKE :u)"),
                            {"t": f"api/{mine.plant.site}/%", "u": "api/-/%"}).scalar()
        hourly = conn.execute(sa.text("SELECT sum(n) FROM sensor_reading_hourly WHERE sensor_id = :s"),
                              {"s": s.id}).scalar()
    assert n == 2 and hourly == 2
    assert dead >= 6
    # the same batch again stores nothing twice
    again = client.post("/readings", headers=h, json={"readings": rows}).json()
    assert (again["stored"], again["duplicates"]) == (0, 2)
    # and the history comes from the rollups
    hist = client.get(f"/sensors/{s.id}/readings", headers=h).json()
    assert sum(p["n"] for p in hist["items"]) == 2
    # an all-good batch (one gateway message per site for the decoder) stores every reading
    m = mine.plant.sensors["m_" + next(k[2:] for k in mine.plant.sensors if k.startswith("m_"))]
    good = [{"sensor": x.code, "site": mine.plant.site, "ts": t - 1000 * i, "value": x.lo, "unit": x.unit}
            for i in range(1, 51) for x in (s, m)]
    out = client.post("/readings", headers=h, json={"readings": good}).json()
    assert (out["stored"], out["rejected"], out["bad"]) == (100, 0, [])
    # a body that is no batch is a problem naming the field
    r = client.post("/readings", headers=h, json={"rows": []})
    assert r.status_code == 422 and r.json()["field"] == "body.readings"


def test_writes_are_audited_with_the_tokens_identity(engine, client, worlds):
    mine, _ = worlds
    name = _name("ops")
    h = bearer(token(engine, name, "plant_manager", [mine.plant.site]))
    assert client.post(f"/alarms/{mine.alarm_id}/acknowledge", headers=h, json={"note": "seen"}).status_code == 200
    r = client.post(f"/vision-events/{mine.event_id}/review", headers=h, json={"decision": "confirmed"})
    assert r.status_code == 200 and r.json()["review_status"] == "confirmed"
    r = client.post(f"/hazards/{mine.hazard_id}/transition", headers=h,
                    json={"to_status": "rejected", "reason": "duplicate report"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected" and r.json()["transitions"][-1]["actor"] == f"token:{name}"
    # the second acknowledgement is a conflict, as a problem document
    r = client.post(f"/alarms/{mine.alarm_id}/acknowledge", headers=h, json={})
    assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT action, entity_id, user_id FROM audit_log WHERE username = :u ORDER BY id"),
                            {"u": f"token:{name}"}).all()
        used = conn.execute(sa.text("SELECT last_used_at FROM api_token WHERE name = :n"), {"n": name}).scalar()
        acked_by = conn.execute(sa.text("SELECT acknowledged_by FROM alarm WHERE id = :i"),
                                {"i": mine.alarm_id}).scalar()
    assert [(a, e) for a, e, _ in rows] == [("acknowledge_alarm", str(mine.alarm_id)),
                                            ("review_vision_event", str(mine.event_id)),
                                            ("hazard_rejected", str(mine.hazard_id))]
    assert all(u is None for _, _, u in rows)
    assert acked_by == f"token:{name}"
    assert used is not None and used > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


def test_a_role_without_the_permission_gets_403_and_bad_input_names_the_field(engine, client, worlds):
    mine, _ = worlds
    h = bearer(token(engine, _name("worker"), "worker", [mine.plant.site]))
    r = client.post(f"/alarms/{mine.alarm_id}/clear", headers=h, json={})
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    r = client.get("/hazards", headers=h, params={"limit": 0})
    assert r.status_code == 422
    assert r.json()["field"] == "query.limit" and r.json()["errors"][0]["field"] == "query.limit"


def test_a_hazard_reported_with_a_photo(engine, client, worlds, tmp_path):
    import io

    from PIL import Image

    mine, _ = worlds
    name = _name("hse")
    h = bearer(token(engine, name, "plant_manager", [mine.plant.site]))
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "PNG")
    form = {"site_id": str(mine.plant.site_id), "area_id": str(mine.area_id), "category": "chemical",
            "title": "Leaking valve", "severity": "high"}
    r = client.post("/hazards", headers=h, data=form, files={"photo": ("leak.png", buf.getvalue(), "image/png")})
    assert r.status_code == 201, r.text
    hid = r.json()["id"]
    d = client.get(f"/hazards/{hid}", headers=h).json()
    assert d["title"] == "Leaking valve" and d["has_photo"] and d["severity"] == "high"
    r = client.post("/hazards", headers=h, data=form, files={"photo": ("x.png", b"not an image", "image/png")})
    assert r.status_code == 422 and r.json()["field"] == "body.photo"
    with engine.connect() as conn:
        who = conn.execute(sa.text("SELECT username FROM audit_log WHERE entity = 'hazard_report' AND "
                                   "entity_id = :i"), {"i": str(hid)}).scalars().all()
    assert who and set(who) == {f"token:{name}"}


def test_token_cli_create_list_revoke(engine, db_url, monkeypatch, worlds):
    from qhse.cli.root import cli

    mine, _ = worlds
    monkeypatch.setenv("QHSE_DATABASE_URL", db_url)
    admin = act(engine, _name("admin").replace("-", "_"))
    name = _name("cli")
    r = CliRunner().invoke(cli, ["token", "create", "--name", name, "--role", "inspector", "--site", mine.plant.site,
                                 "--expires-days", "30", "--as", admin.username])
    assert r.exit_code == 0, r.output
    secret = r.output.strip().splitlines()[-1]
    assert secret.startswith("qhse_")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM api_token WHERE name = :n"), {"n": name}).scalar()
    assert stored == api_tokens.digest(secret) and secret not in stored
    r = CliRunner().invoke(cli, ["token", "list"])
    assert name in r.output and secret not in r.output and "active" in r.output
    assert api_tokens.authenticate(engine, secret) is not None
    r = CliRunner().invoke(cli, ["token", "revoke", name, "--as", admin.username])
    assert r.exit_code == 0, r.output
    assert api_tokens.authenticate(engine, secret) is None
    worker = act(engine, _name("w").replace("-", "_"), role="worker")
    r = CliRunner().invoke(cli, ["token", "create", "--name", _name("x"), "--role", "admin", "--all-sites",
                                 "--as", worker.username])
    assert r.exit_code == 2 and "may not" in r.output


def test_openapi_31_and_docs_served_without_a_cdn(client):
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    r = client.get("/docs")
    assert r.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in r.text and "cdn" not in r.text.lower()
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_qhse_api_serves_under_uvicorn(db_url, engine, worlds):
    import os
    import subprocess
    import sys
    import time

    import httpx

    from tests.ingest_fixtures import ROOT, free_port

    mine, _ = worlds
    h = bearer(token(engine, _name("uv"), "inspector", [mine.plant.site]))
    port = free_port()
    env = {**os.environ, "QHSE_DATABASE_URL": db_url}
    proc = subprocess.Popen([sys.executable, "-m", "qhse.cli", "api", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "qhse api did not start"
            time.sleep(0.3)
        assert httpx.get(f"{base}/openapi.json").json()["openapi"].startswith("3.1")
        r = httpx.get(f"{base}/hazards/{mine.hazard_id}", headers=h)
        assert r.status_code == 200 and r.json()["id"] == mine.hazard_id
        assert httpx.get(f"{base}/hazards/{mine.hazard_id}").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)
