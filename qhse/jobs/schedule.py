"""The periodic jobs of ``qhse worker`` and their intervals (run by :mod:`qhse.jobs.runner`).

SLA escalation (5 min), inspection scheduling and misses (15 min), training gating (10 min),
notification delivery (30 s), sensor rollup refresh (10 min), stalled ingestion consumers
(30 s: the on-call role is notified once per stall), dead-letter purge (1 h), failure-model
scoring (1 h), failure-model monitoring (6 h) and scorecards (6 h).  Each job imports what it needs when it runs.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from qhse.jobs.runner import Job, JobContext, JobSkipped


def _sla_escalation(ctx: JobContext) -> str:
    from qhse.services.sla import escalate_overdue

    with Session(ctx.engine) as s, s.begin():
        return escalate_overdue(s, ctx.now).describe()


def _inspections(ctx: JobContext) -> str:
    from qhse.services.inspections import schedule

    with Session(ctx.engine) as s, s.begin():
        return schedule(s, ctx.now).describe()


def _training_gating(ctx: JobContext) -> str:
    from qhse.services.gating import scan

    return scan(ctx.engine, at=ctx.now).describe()


def _notifications(ctx: JobContext) -> str:
    from qhse.services.notify import deliver_pending

    return deliver_pending(ctx.engine).describe()


def _rollups(ctx: JobContext) -> str:
    from db.readings import refresh_rollups

    hour = ctx.now.replace(minute=0, second=0, microsecond=0)
    start, end = hour - dt.timedelta(hours=3), hour + dt.timedelta(hours=1)
    with ctx.engine.begin() as conn:
        n = refresh_rollups(conn, start, end)
    return f"hourly/daily rollups refreshed for {start:%Y-%m-%d %H:%M} .. {end:%H:%M} UTC ({n} rows)"


def _ingest_heartbeat(ctx: JobContext) -> str:
    """Notify the on-call role of every consumer whose heartbeat went stale (once per stall)."""
    from db.heartbeats import claim_stale
    from qhse.services.notify import notify_on_call
    from qhse.settings import get_settings

    s = get_settings()
    with Session(ctx.engine) as session, session.begin():
        stale = claim_stale(session.connection(), s.heartbeat_stale_s)
        for b in stale:
            notify_on_call(
                session, now=ctx.now, spec=s.oncall_notify, ref=f"ingest_heartbeat:{b.client_id}",
                subject=f"Ingestion consumer {b.client_id} is stalled (no heartbeat for {b.age_s:,.0f} s)",
                body=(f"The ingestion consumer {b.client_id} has not written a heartbeat for {b.age_s:,.0f} s "
                      f"(stale after {s.heartbeat_stale_s:g} s). Sensor readings it should store, and the alarms "
                      f"they would raise, may be waiting.\n\n{b.describe()}\n\n"
                      "Check the process (qhse health --component ingest) and restart it if it is wedged."))
    return f"{len(stale)} stalled consumer(s) notified" if stale else "every running consumer's heartbeat is fresh"


def _dead_letter_purge(ctx: JobContext) -> str:
    from ingestion.store import purge_dead_letters
    from qhse.settings import get_settings

    days = get_settings().dead_letter_retention_days
    if days <= 0:
        raise JobSkipped("QHSE_DEAD_LETTER_RETENTION_DAYS is 0: dead letters are kept forever")
    with ctx.engine.begin() as conn:
        n = purge_dead_letters(conn.connection.driver_connection, days)
    return f"{n:,} dead letter(s) older than {days:g} days deleted"


def _ml_scoring(ctx: JobContext) -> str:
    from ml.scoring import ScoringError, default_as_of, score_assets

    as_of = default_as_of(ctx.engine)
    try:
        res = score_assets(ctx.engine, as_of=as_of)
    except ScoringError as exc:  # e.g. no champion model registered yet
        raise JobSkipped(f"scoring not possible: {exc}") from None
    bands = ", ".join(f"{k} {v}" for k, v in (res.by_band or {}).items())
    return (f"{res.model_name} v{res.version}: {res.assets} assets scored at {as_of:%Y-%m-%d %H:%M} UTC ({bands})")


def _ml_monitoring(ctx: JobContext) -> str:
    from ml.monitoring import monitor
    from qhse.settings import get_settings

    try:
        res = monitor(ctx.engine, now=ctx.now, retrain_days=get_settings().ml_retrain_days)
    except ImportError as exc:  # the ml extras are not installed
        raise JobSkipped(f"failure-model monitoring not possible: {exc}") from None
    return res.describe() + (f"; flagged: {', '.join(res.flagged)}" if res.flagged else "")


def _scorecards(ctx: JobContext) -> str:
    from qhse.services.scorecards import compute_month
    from qhse.settings import get_settings

    local = ctx.now.astimezone(get_settings().tz).date()
    months = [local.replace(day=1)]
    if local.day <= 3:  # the first days of a month also finish the month before
        prev = local.replace(day=1) - dt.timedelta(days=1)
        months.insert(0, prev.replace(day=1))
    out = []
    for mo in months:
        res = compute_month(ctx.engine, mo, as_of=ctx.now)
        out.append(f"{mo:%Y-%m}: {res.scores} scores, {res.flagged} need a plan")
    return "; ".join(out)


JOBS: tuple[Job, ...] = (
    Job("sla_escalation", 300, _sla_escalation, "escalate overdue corrective actions"),
    Job("inspection_schedule", 900, _inspections, "schedule inspections, flag missed ones"),
    Job("training_gating", 600, _training_gating, "no-entry warnings from training gating rules (owners notified)"),
    Job("notifications", 30, _notifications, "deliver queued notifications (with retries)"),
    Job("rollup_refresh", 600, _rollups, "refresh hourly/daily sensor rollups of recent hours"),
    Job("ingest_heartbeat", 30, _ingest_heartbeat, "notify the on-call role of stalled ingestion consumers"),
    Job("dead_letter_purge", 3600, _dead_letter_purge, "delete dead letters older than the retention period"),
    Job("ml_scoring", 3600, _ml_scoring, "score machines with the champion failure model"),
    Job("ml_monitoring", 6 * 3600, _ml_monitoring,
        "failure model: past predictions against later failures, feature drift, scheduled retraining"),
    Job("scorecards", 6 * 3600, _scorecards, "compute this month's assessment scorecards"),
)
JOBS_BY_NAME = {j.name: j for j in JOBS}


def select_jobs(names: list[str] | None) -> list[Job]:
    """The named jobs (every job when ``names`` is empty); ValueError for an unknown name."""
    if not names:
        return list(JOBS)
    unknown = [n for n in names if n not in JOBS_BY_NAME]
    if unknown:
        raise ValueError(f"unknown job(s) {', '.join(unknown)} (jobs: {', '.join(JOBS_BY_NAME)})")
    return [JOBS_BY_NAME[n] for n in names]
