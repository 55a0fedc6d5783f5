"""db/queries: every read query takes ``(bind, scope, ...)``: the engine or connection, then the
caller's scope, then its parameters (checked on the source, no database)."""

from __future__ import annotations

import ast
from pathlib import Path

QUERIES = Path(__file__).resolve().parents[1] / "db" / "queries"
BIND = {"engine", "bind", "conn"}

# Not read queries taking a caller's scope, each for a stated reason.
EXEMPT = {
    # helpers shared by the query modules (no database access)
    "_sites": "*", "scope": "*",
    # writes and the row locks taken by a write (the service has already checked the caller)
    "alarms": {"alarm_state", "set_acknowledged"}, "vision": {"event_state", "set_review"},
    "users": "*",  # accounts and sessions: read before any scope exists (sign-in), or written by services
    "refs": "*",  # what a typed reference (SITE/AREA, employee no.) names, for the command line
    "summary": "*",  # whole-platform counts printed by `qhse demo`
    "scorecard_sources": "*",  # evidence sources called by the scorecard computation with its window
    # plan assembly inside the emergency service's transaction (the area was checked against the scope)
    "emergency": {"area_context", "effective_template", "materials_in_area", "nearest_resources",
                  "people_in_area", "notify_contacts", "active_emergency"},
    "training": {"due_soon_by_department"},  # a DataFrame transformation
}


def _functions():
    for path in sorted(QUERIES.glob("*.py")):
        exempt = EXEMPT.get(path.stem, set())
        if exempt == "*":
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and node.name not in exempt:
                yield path.stem, node


def test_every_read_query_takes_bind_then_scope():
    bad = []
    for mod, fn in _functions():
        args = [a.arg for a in fn.args.posonlyargs + fn.args.args]
        if len(args) < 2 or args[0] not in BIND or args[1] != "scope":
            bad.append(f"db/queries/{mod}.py: {fn.name}({', '.join(args)})")
    assert bad == []


def test_the_check_sees_the_query_modules():
    names = {f"{m}.{f.name}" for m, f in _functions()}
    assert {"hazards.sla_board", "hazards.hazard_detail", "kpi.kpi_counts", "scorecards.score_evidence",
            "org.sites"} <= names
