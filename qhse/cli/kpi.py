"""``qhse kpi``, ``qhse scorecard ...``, ``qhse health-index`` and ``qhse resources``.

Only click is imported at module level; each command imports what it needs.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys

import click

from qhse.cli.support import UserError, open_engine


def _month(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        d = dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise UserError(f"month {value!r}: write it as YYYY-MM (e.g. 2026-10)") from None
    return d.replace(day=1)


def _sites(engine, codes: tuple[str, ...]) -> list[int] | None:
    if not codes:
        return None
    from db.queries.kpi import scoped_sites

    known = {s["code"].upper(): s["id"] for s in scoped_sites(engine)}
    out = []
    for c in codes:
        if c.upper() not in known:
            raise UserError(f"unknown site {c!r}; known sites: {', '.join(sorted(known)) or 'none'}")
        out.append(known[c.upper()])
    return out


def _num(v, digits: int = 2) -> str:
    from qhse.domain.kpi import fmt

    return fmt(v, digits)


def _console(width: int = 170):
    from rich.console import Console

    con = Console()
    return con if con.is_terminal and con.width >= width else Console(width=width)


def _config(path):
    from qhse.domain.performance import PerformanceConfigError
    from qhse.services.performance import load_performance_config

    if path is None:
        return None
    try:
        return load_performance_config(path)
    except PerformanceConfigError as exc:
        raise UserError(str(exc)) from None




# ----------------------------------------------------------------------------------- kpi
@click.command("kpi")
@click.option("--month", default=None, help="Last month of the period, YYYY-MM (default: last complete month).")
@click.option("--months", type=click.IntRange(1, 36), default=1, show_default=True, help="Months in the period.")
@click.option("--by", type=click.Choice(["site", "region", "department", "area", "month"]), default="site",
              show_default=True, help="One row per ...")
@click.option("--site", "sites", multiple=True, help="Site code (repeat for several; default: every site).")
@click.option("--format", "fmt_", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--config", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Performance settings YAML (default: qhse/domain/performance.yaml).")
def kpi_cmd(month, months, by, sites, fmt_, config) -> None:
    """Safety KPIs (TRIR, DART, LTIFR, severity, near-miss ratio, hazard closure, on-time
    rectification, training coverage, inspection completion) with the change versus the
    previous period; the total line is computed from summed hours and cases."""
    from qhse.domain.kpi import KPIS
    from qhse.services.kpi_report import default_month, kpi_report

    eng = open_engine()
    site_ids = _sites(eng, sites)
    m = _month(month) or default_month(eng, site_ids)
    rep = kpi_report(eng, month=m, months=months, by=by, scope=site_ids, config=_config(config))
    rows = rep.rows + [rep.total]
    if fmt_ in ("csv", "json"):
        recs = []
        for r in rows:
            rec = {"unit": r.label, "hours": r.counts.hours if r.counts.hours_known else None}
            for k in KPIS:
                rec[k.code] = r.values[k.code]
                rec[f"{k.code}_previous"] = r.changes[k.code].previous
            recs.append(rec)
        if fmt_ == "json":
            click.echo(json.dumps({"period": rep.period_label, "by": by, "rows": recs}, indent=2, default=str))
        else:
            w = csv.DictWriter(sys.stdout, fieldnames=list(recs[0]))
            w.writeheader()
            w.writerows(recs)
        return
    from rich.table import Table

    t = Table(title=f"Safety KPIs {rep.period_label} by {by} (vs previous {months} month{'s' * (months > 1)})",
              caption="lagging: " + ", ".join(k.short for k in KPIS if k.kind == "lagging")
              + "  |  leading: " + ", ".join(k.short for k in KPIS if k.kind == "leading"))
    t.add_column(by)
    t.add_column("hours", justify="right")
    for k in KPIS:
        t.add_column(k.short, justify="right")
    for r in rows:
        label = r.meta.get("code") or r.label
        cells = [label, _num(r.counts.hours, 0) if r.counts.hours_known else "n/a"]
        for k in KPIS:
            ch = r.changes[k.code]
            up = ch.delta is not None and ch.delta > 0
            arrow = {"better": "[green]▲[/]" if up else "[green]▼[/]",
                     "worse": "[red]▲[/]" if up else "[red]▼[/]"}.get(ch.direction, " ")
            cells.append(_num(r.values[k.code], 1) + arrow)
        t.add_row(*cells, end_section=bool(rep.rows) and r is rep.rows[-1])
    _console().print(t)
    click.echo("n/a: not available (no hours, nothing due, or no injury for the near-miss ratio); "
               "arrows: change vs the previous period, green = better; the last line is computed from summed counts.")


# ----------------------------------------------------------------------------- scorecard
@click.group("scorecard")
def scorecard() -> None:
    """Assessment scorecards: indicators, monthly computation, manual entries, evidence."""


@scorecard.command("sync")
@click.option("--file", "path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Indicator YAML (default: qhse/domain/indicators.yaml).")
def scorecard_sync(path) -> None:
    """Load the indicator definitions into the database (new versions are added)."""
    from qhse.domain.scorecards import ScorecardError
    from qhse.services.scorecards import load_indicators, sync_indicators

    eng = open_engine()
    try:
        defs = load_indicators(path)
        with eng.begin() as conn:
            res = sync_indicators(conn, defs)
    except ScorecardError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"{len(res.added)} added, {len(res.unchanged)} unchanged, {len(res.deactivated)} deactivated")
    for a in res.added:
        click.echo(f"  + {a}")
    for d in res.deactivated:
        click.echo(f"  - {d}")


@scorecard.command("compute")
@click.option("--month", default=None, help="Month YYYY-MM (default: last complete month).")
@click.option("--from", "from_", default=None, help="First month of a range, YYYY-MM.")
@click.option("--to", default=None, help="Last month of a range, YYYY-MM (default: --month).")
def scorecard_compute(month, from_, to) -> None:
    """Compute every active indicator for a month (or a range of months) from the data."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from qhse.domain.scorecards import ScorecardError
    from qhse.services.kpi_report import default_month
    from qhse.services.scorecards import compute_range

    eng = open_engine()
    last = _month(to) or _month(month) or default_month(eng)
    first = _month(from_) or last
    if first > last:
        raise UserError("--from is after --to")
    try:
        with Progress(TextColumn("scorecards {task.fields[month]}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn()) as bar:
            n = (last.year - first.year) * 12 + last.month - first.month + 1
            task = bar.add_task("compute", total=n, month="")
            results = compute_range(eng, first, last,
                                    progress=lambda i, total, mo: bar.update(task, completed=i, month=f"{mo:%Y-%m}"))
    except ScorecardError as exc:
        raise UserError(str(exc)) from None
    for r in results:
        rt = r.ratings
        click.echo(f"{r.month:%Y-%m}: {r.scores} scores - excellent {rt['excellent']}, qualified {rt['qualified']}, "
                   f"needs improvement {rt['needs_improvement']}, not available {rt['not_available']} "
                   f"(awaiting manual entry {r.awaiting_manual}); {r.flagged} flagged for a plan")


@scorecard.command("show")
@click.option("--month", default=None, help="Month YYYY-MM (default: newest computed month).")
@click.option("--site", "sites", multiple=True, help="Site code (repeat for several).")
@click.option("--level", type=click.Choice(["enterprise", "department", "post"]), default=None)
@click.option("--flagged", is_flag=True, help="Only units flagged for an improvement plan.")
@click.option("--format", "fmt_", type=click.Choice(["table", "json"]), default="table", show_default=True)
def scorecard_show(month, sites, level, flagged, fmt_) -> None:
    """The month's scores per unit with rating, previous rating and plan flag."""
    from db.queries.scorecards import score_months, scores

    eng = open_engine()
    site_ids = _sites(eng, sites)
    m = _month(month)
    if m is None:
        months = score_months(eng, site_ids)
        if not months:
            raise UserError("no scores yet: run 'qhse scorecard compute'")
        m = months[0]
    rows = scores(eng, month=m, scope=site_ids, level=level)
    if flagged:
        rows = [r for r in rows if r["needs_plan"]]
    if fmt_ == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    from rich.table import Table

    colour = {"excellent": "green", "qualified": "cyan", "needs_improvement": "red", "not_available": "dim"}
    t = Table(title=f"Scorecards {m:%Y-%m}" + (" (flagged units)" if flagged else ""))
    for c in ("id", "unit", "indicator", "value", "target", "rating", "previous", "plan", "evidence"):
        t.add_column(c, justify="right" if c in ("id", "value", "target", "evidence") else "left")
    for r in rows:
        val = _num(r["value"], 1) + ("" if r["value"] is None else f" {r['value_unit']}")
        ev = (f"manual: {r['manual_entry_by']}" if r["manual_entry_by"] else
              ("awaiting entry" if r["manual"] else str(r["evidence_rows"])))
        t.add_row(str(r["id"]), r["unit"] or "?", r["name"], val, _num(r["target"], 1),
                  f"[{colour[r['rating']]}]{r['rating'].replace('_', ' ')}[/]",
                  (r["previous_rating"] or "-").replace("_", " "), "[red]PLAN[/]" if r["needs_plan"] else "", ev)
    _console().print(t)
    click.echo(f"{len(rows)} scores; 'qhse scorecard evidence ID' lists the rows behind one.")


@scorecard.command("evidence")
@click.argument("score_id", type=int)
def scorecard_evidence(score_id: int) -> None:
    """The rows behind one score (table + id, and whether each passes)."""
    from db.queries.scorecards import EvidenceNotVisible, score_evidence

    try:
        ev = score_evidence(open_engine(), None, score_id)  # None: every site
    except EvidenceNotVisible as exc:
        raise UserError(str(exc)) from None
    click.echo(f"{ev['name']} - {ev['unit']} - {ev['period']:%Y-%m}: {_num(ev['value'], 2)} {ev['value_unit']} "
               f"({ev['rating'].replace('_', ' ')}); numerator {_num(ev['numerator'], 1)}, "
               f"denominator {_num(ev['denominator'], 1)}")
    click.echo(f"formula: {ev['formula']}")
    if ev["manual_entry_by"]:
        click.echo(f"manual entry by {ev['manual_entry_by']}: {ev['manual_evidence']}")
    for table, rows in ev["tables"].items():
        click.echo(f"\n{table} ({len(rows)} rows)")
        for r in rows:
            mark = {True: "pass", False: "FAIL"}.get(r.get("passes"), "")
            fields = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("passes", "site_id") and v is not None)
            click.echo(f"  {mark:<4} {fields}")


@scorecard.command("enter")
@click.argument("code")
@click.option("--unit", required=True, help="site:CODE, department:SITE/DEPT, post:SITE/DEPT/POST or enterprise:ID")
@click.option("--month", required=True, help="Month checked, YYYY-MM.")
@click.option("--value", type=float, required=True, help="Result (e.g. percent of checklist items compliant).")
@click.option("--by", "entered_by", required=True, help="Who made the check.")
@click.option("--evidence", required=True, help="What was checked: documents, manifest numbers, photos.")
def scorecard_enter(code, unit, month, value, entered_by, evidence) -> None:
    """Record the result of a manual-check indicator, with its evidence."""
    from qhse.domain.scorecards import ScorecardError
    from qhse.services.scorecards import record_manual_entry

    try:
        res = record_manual_entry(open_engine(), code=code, unit=unit, month=_month(month), value=value,
                                  entered_by=entered_by, evidence=evidence)
    except ScorecardError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"score {res['id']}: {res['value']:g} -> {res['rating'].replace('_', ' ')}"
               + (" - flagged for an improvement plan (second month needing improvement)" if res["needs_plan"] else ""))


# --------------------------------------------------------------------------- health index
@click.command("health-index")
@click.option("--month", default=None, help="Month YYYY-MM (default: last complete month).")
@click.option("--by", type=click.Choice(["department", "site"]), default="department", show_default=True)
@click.option("--site", "sites", multiple=True, help="Site code (repeat for several).")
def health_index_cmd(month, by, sites) -> None:
    """Safety health index and ranking with the change versus last month."""
    from rich.table import Table

    from qhse.services.health_index import health_ranking
    from qhse.services.kpi_report import default_month

    eng = open_engine()
    site_ids = _sites(eng, sites)
    m = _month(month) or default_month(eng, site_ids)
    rows = health_ranking(eng, month=m, by=by, scope=site_ids)
    t = Table(title=f"Safety health index {m:%Y-%m} by {by}")
    for c in ("rank", "unit", "index", "change", "rank change", "density", "rectified", "repeats", "severity",
              "hazards"):
        t.add_column(c, justify="left" if c == "unit" else "right")
    for r in rows:
        rc = r["rank_change"]
        t.add_row(str(r["rank"] or "-"), f"{r['site_code']} / {r['unit']}" if by == "department" else r["unit"],
                  _num(r["index"], 1), _num(r["change"], 1),
                  "-" if rc is None else (f"+{rc}" if rc > 0 else str(rc)),
                  _num(r["score_hazard_density"], 0), _num(r["score_rectification_rate"], 0),
                  _num(r["score_repeat_rate"], 0), _num(r["score_severity_mix"], 0), str(r["hazards"]))
    _console().print(t)


# ------------------------------------------------------------------------------ resources
@click.command("resources")
@click.option("--site", "sites", multiple=True, help="Site code (repeat for several).")
@click.option("--gaps-only", is_flag=True, help="Only areas whose stock differs from the recommendation.")
def resources_cmd(sites, gaps_only) -> None:
    """Area risk index and the recommended distribution of emergency resources vs stock."""
    from rich.table import Table

    from qhse.services.resources import recommend

    eng = open_engine()
    rec = recommend(eng, scope=_sites(eng, sites))
    con = _console(130)
    t = Table(title=f"Emergency resources by plant (risk window {rec.window_days} days to {rec.as_of:%Y-%m-%d})")
    for c in ("plant", "resource", "stocked", "recommended", "shortage", "surplus", "to buy"):
        t.add_column(c, justify="left" if c in ("plant", "resource") else "right")
    for s in rec.summary:
        t.add_row(s["site_code"], s["resource"], str(s["stocked"]), str(s["recommended"]), str(s["shortage"]),
                  str(s["surplus"]), str(s["to_buy"]))
    con.print(t)
    t = Table(title="Per area (gap > 0: bring more; < 0: surplus to move)")
    for c in ("plant", "area", "risk", "class", "resource", "min", "stocked", "recommended", "gap"):
        t.add_column(c, justify="left" if c in ("plant", "area", "resource", "class") else "right")
    for r in sorted(rec.rows, key=lambda r: (r["site_code"], -r["risk_index"], r["resource"])):
        if gaps_only and r["gap"] == 0:
            continue
        gap = r["gap"]
        t.add_row(r["site_code"], r["area"], _num(r["risk_index"], 0), r["risk_class"], r["resource"],
                  str(r["minimum"]), str(r["stocked"]), str(r["recommended"]),
                  f"[red]+{gap}[/]" if gap > 0 else (f"[yellow]{gap}[/]" if gap < 0 else "0"))
    con.print(t)
