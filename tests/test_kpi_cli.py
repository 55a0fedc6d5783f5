"""The ``qhse kpi``, ``qhse scorecard``, ``qhse health-index`` and ``qhse resources`` commands."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from qhse.cli.root import cli


@pytest.fixture()
def run(seeded_url, monkeypatch):
    monkeypatch.setenv("QHSE_DATABASE_URL", seeded_url)

    def _run(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return _run


def test_kpi_json_total_is_the_group_figure(run, seeded_engine):
    r = run("kpi", "--month", "2026-10", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output[r.output.index("{"):])
    total = data["rows"][-1]
    with seeded_engine.connect() as c:
        cases, hours = c.execute(sa.text(
            "SELECT (SELECT count(*) FROM incident WHERE recordable AND occurred_at >= '2026-10-01 00:00+08' "
            "AND occurred_at < '2026-11-01 00:00+08'), "
            "(SELECT sum(hours + contractor_hours)::float FROM hours_worked WHERE month = '2026-10-01')")).one()
    assert total["hours"] == pytest.approx(hours)
    assert total["trir"] == pytest.approx(cases * 200_000 / hours)
    assert len(data["rows"]) == 4  # three plants and the total


def test_kpi_table_by_department_for_one_site(run):
    r = run("kpi", "--month", "2026-10", "--months", "3", "--by", "department", "--site", "SZ-ELEC")
    assert r.exit_code == 0, r.output
    assert "SZ-ELEC / SMT Assembly" in r.output and "SU-MACH" not in r.output
    assert "TRIR" in r.output and "lagging" in r.output and "leading" in r.output


@pytest.mark.parametrize("args, message", [
    (("kpi", "--month", "2026-13"), "YYYY-MM"),
    (("kpi", "--site", "NOPE"), "unknown site"),
    (("scorecard", "compute", "--from", "2026-10", "--to", "2026-09"), "after"),
    (("scorecard", "enter", "trir", "--unit", "site:SZ-ELEC", "--month", "2026-10", "--value", "1", "--by", "x",
      "--evidence", "checked"), "computed from the data"),
    (("scorecard", "evidence", "999999"), "not found"),
])
def test_bad_input_exits_2_with_one_line(run, args, message):
    r = run(*args)
    assert r.exit_code == 2
    assert message in r.output


def test_scorecard_compute_show_and_evidence(run):
    r = run("scorecard", "compute", "--from", "2026-09", "--to", "2026-10")
    assert r.exit_code == 0, r.output
    assert "2026-09:" in r.output and "2026-10:" in r.output and "flagged for a plan" in r.output
    r = run("scorecard", "show", "--month", "2026-10", "--site", "SU-MACH", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output[r.output.index("["):])
    assert rows and all(x["site_id"] == rows[0]["site_id"] for x in rows)
    one = next(x for x in rows if x["evidence_rows"] > 0 and x["value"] is not None)
    r = run("scorecard", "evidence", str(one["id"]))
    assert r.exit_code == 0, r.output
    assert one["name"] in r.output and "formula:" in r.output
    assert r.output.count("pass") + r.output.count("FAIL") + r.output.count("hours_worked") >= 1
    r = run("scorecard", "show", "--month", "2026-10", "--flagged")
    assert r.exit_code == 0 and "flagged units" in r.output


def test_health_index_and_resources_commands(run):
    r = run("health-index", "--month", "2026-10", "--by", "site")
    assert r.exit_code == 0, r.output
    assert "Shenzhen Electronics Plant" in r.output and "rank" in r.output
    r = run("resources", "--site", "SU-MACH")
    assert r.exit_code == 0, r.output
    assert "extinguisher" in r.output and "SZ-ELEC" not in r.output
