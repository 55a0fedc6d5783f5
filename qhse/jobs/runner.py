"""The job runner behind ``qhse worker``: periodic jobs, each under a PostgreSQL advisory lock.

Any number of worker processes may run against the same database.  Before running a job
a worker takes ``pg_try_advisory_lock(QHSE, crc32(job))`` on a connection of its own;
a worker that cannot get the lock leaves the job to the one that has it.  Holding the
lock, it checks again that the job is still due (another worker may have just finished
it), logs a ``job_run`` row (``running``), runs the job in its own transaction and
records the outcome (``ok`` / ``failed`` / ``skipped``), the duration and a one-line
detail.  A failing job never stops the worker; a worker that dies leaves its lock with
its connection, and the next worker to take the lock marks the dead run ``failed``.

Jobs (interval): SLA escalation (5 min), inspection scheduling and misses (15 min),
notification delivery (30 s), sensor rollup refresh (10 min), stalled ingestion consumers
(30 s: the on-call role is notified once per stall), failure-model scoring
(1 h, when the ml package provides a scoring function) and scorecards (6 h, when
``qhse.services.scorecards`` provides one).
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import logging
import os
import signal
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m

log = logging.getLogger("qhse.jobs.runner")

UTC = dt.UTC
LOCK_NAMESPACE = 0x51485345  # "QHSE"


class JobSkipped(Exception):
    """The job had nothing it could do (e.g. an optional package is missing); not a failure."""


@dataclass
class JobContext:
    engine: sa.Engine
    now: dt.datetime
    worker: str


@dataclass(frozen=True)
class Job:
    name: str
    interval_s: float
    run: Callable[[JobContext], str]
    description: str

    @property
    def lock_key(self) -> int:
        # Signed 32-bit, as pg_try_advisory_lock(int, int) wants.
        return zlib.crc32(("qhse.job:" + self.name).encode()) - (1 << 31)


# ------------------------------------------------------------------------------------ jobs
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
    from qhse.settings import get_settings
    from qhse.services.notify import notify_on_call

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


def _optional_module(name: str):
    """The module if it is installed, else None (nothing is imported when it is absent)."""
    try:
        if importlib.util.find_spec(name) is None:
            return None
    except (ImportError, ValueError):
        return None
    return importlib.import_module(name)


def _ml_scoring(ctx: JobContext) -> str:
    mod = _optional_module("ml.scoring")
    fn = getattr(mod, "score_assets", None) if mod else None
    if fn is None:
        raise JobSkipped("failure-model scoring is not installed (ml.scoring.score_assets)")
    as_of = mod.default_as_of(ctx.engine) if hasattr(mod, "default_as_of") else ctx.now
    expected = tuple(e for e in (getattr(mod, "ScoringError", None),) if e)
    try:
        res = fn(ctx.engine, as_of=as_of)
    except expected as exc:  # e.g. no champion model registered yet
        raise JobSkipped(f"scoring not possible: {exc}") from None
    bands = ", ".join(f"{k} {v}" for k, v in (getattr(res, "by_band", {}) or {}).items())
    return (f"{getattr(res, 'model_name', '?')} v{getattr(res, 'version', '?')}: {getattr(res, 'assets', 0)} assets "
            f"scored at {as_of:%Y-%m-%d %H:%M} UTC ({bands})")


def _scorecards(ctx: JobContext) -> str:
    mod = _optional_module("qhse.services.scorecards")
    fn = getattr(mod, "compute_month", None) if mod else None
    if fn is None:
        raise JobSkipped("scorecards are not installed (qhse.services.scorecards.compute_month)")
    from qhse.settings import get_settings

    local = ctx.now.astimezone(get_settings().tz).date()
    months = [local.replace(day=1)]
    if local.day <= 3:  # the first days of a month also finish the month before
        prev = local.replace(day=1) - dt.timedelta(days=1)
        months.insert(0, prev.replace(day=1))
    out = []
    for mo in months:
        res = fn(ctx.engine, mo, as_of=ctx.now)
        out.append(f"{mo:%Y-%m}: {getattr(res, 'scores', 0)} scores, {getattr(res, 'flagged', 0)} need a plan")
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
    Job("scorecards", 6 * 3600, _scorecards, "compute this month's assessment scorecards"),
)
JOBS_BY_NAME = {j.name: j for j in JOBS}


# ---------------------------------------------------------------------------------- runner
@dataclass
class Outcome:
    job: str
    status: str  # ok, failed, skipped, not_due, locked
    detail: str
    duration_s: float = 0.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def last_runs(conn, names: list[str]) -> dict[str, dt.datetime]:
    """Start time of each named job's latest run (one index probe per job)."""
    rows = conn.execute(sa.text(
        "SELECT j, (SELECT max(started_at) FROM job_run WHERE job = j) FROM unnest(CAST(:names AS text[])) AS j"),
        {"names": list(names)}).all()
    return {j: t for j, t in rows if t is not None}


def is_due(job: Job, last: dt.datetime | None, now: dt.datetime) -> bool:
    return last is None or (now - last).total_seconds() >= job.interval_s


def run_job(engine: sa.Engine, job: Job, *, now: dt.datetime | None = None, worker: str | None = None,
            force: bool = False) -> Outcome:
    """Run ``job`` once if it is due and no other worker holds it."""
    worker = worker or worker_id()
    with engine.connect() as lock_conn:
        lock_conn.execution_options(isolation_level="AUTOCOMMIT")
        got = lock_conn.execute(sa.text("SELECT pg_try_advisory_lock(:ns, :k)"),
                                {"ns": LOCK_NAMESPACE, "k": job.lock_key}).scalar()
        if not got:
            return Outcome(job.name, "locked", "running in another worker")
        try:
            # Runs left 'running' by a worker that died: nobody else can hold the lock now.
            lock_conn.execute(sa.text(
                "UPDATE job_run SET status = 'failed', finished_at = now(), "
                "detail = coalesce(detail || '; ', '') || 'worker stopped before the job finished' "
                "WHERE job = :j AND status = 'running'"), {"j": job.name})
            t_now = now or dt.datetime.now(UTC)
            last = lock_conn.execute(sa.text("SELECT max(started_at) FROM job_run WHERE job = :j"),
                                     {"j": job.name}).scalar()
            if not force and not is_due(job, last, t_now):
                return Outcome(job.name, "not_due", f"last run {last:%Y-%m-%d %H:%M:%S} UTC")
            run_id = lock_conn.execute(sa.text(
                "INSERT INTO job_run (job, started_at, status, worker) VALUES (:j, :t, 'running', :w) RETURNING id"),
                {"j": job.name, "t": t_now, "w": worker}).scalar()
            t0 = time.perf_counter()
            try:
                detail = job.run(JobContext(engine=engine, now=t_now, worker=worker))
                status = "ok"
            except JobSkipped as exc:
                detail, status = str(exc), "skipped"
            except Exception as exc:  # noqa: BLE001 - a job's failure is recorded, never fatal
                log.exception("job %s failed", job.name)
                detail, status = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}", "failed"
            dur = time.perf_counter() - t0
            lock_conn.execute(sa.text(
                "UPDATE job_run SET status = :s, finished_at = :f, duration_s = :d, detail = :detail WHERE id = :id"),
                {"s": status, "f": dt.datetime.now(UTC), "d": dur, "detail": (detail or "")[:4000], "id": run_id})
            return Outcome(job.name, status, detail or "", dur)
        finally:
            lock_conn.execute(sa.text("SELECT pg_advisory_unlock(:ns, :k)"), {"ns": LOCK_NAMESPACE, "k": job.lock_key})


def select_jobs(names: list[str] | None) -> list[Job]:
    if not names:
        return list(JOBS)
    unknown = [n for n in names if n not in JOBS_BY_NAME]
    if unknown:
        raise ValueError(f"unknown job(s) {', '.join(unknown)} (jobs: {', '.join(JOBS_BY_NAME)})")
    return [JOBS_BY_NAME[n] for n in names]


def run_once(engine: sa.Engine, jobs: list[Job] | None = None, *, force: bool = False,
             on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run every due job once (in order), then return."""
    outs = []
    for job in jobs or list(JOBS):
        try:
            o = run_job(engine, job, force=force)
        except sa.exc.OperationalError as exc:
            o = Outcome(job.name, "failed", f"database unavailable: {str(exc).strip().splitlines()[0]}")
            log.error("job %s: %s", job.name, o.detail)
        outs.append(o)
        if on_outcome:
            on_outcome(o)
    return outs


def run_forever(engine: sa.Engine, jobs: list[Job] | None = None, *, tick_s: float = 5.0,
                stop: threading.Event | None = None, on_outcome: Callable[[Outcome], None] | None = None) -> None:
    """Loop until ``stop`` is set (or SIGTERM / SIGINT): run whichever jobs fall due."""
    stop = stop or threading.Event()
    jobs = jobs or list(JOBS)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    backoff = tick_s
    while not stop.is_set():
        try:
            with engine.connect() as conn:
                last = last_runs(conn, [j.name for j in jobs])
            now = dt.datetime.now(UTC)
            for job in jobs:
                if stop.is_set():
                    break
                if is_due(job, last.get(job.name), now):
                    o = run_job(engine, job)
                    if on_outcome and o.status not in ("not_due", "locked"):
                        on_outcome(o)
            backoff = tick_s
        except sa.exc.OperationalError as exc:
            backoff = min(60.0, backoff * 2)
            log.error("database unavailable, retrying in %.0f s: %s", backoff, str(exc).strip().splitlines()[0])
        except Exception:  # noqa: BLE001 - the loop must survive anything a tick throws
            log.exception("worker tick failed")
            backoff = min(60.0, backoff * 2)
        stop.wait(backoff)


def recent_runs(engine: sa.Engine, limit: int = 20) -> list[m.JobRun]:
    with Session(engine) as s:
        return list(s.scalars(sa.select(m.JobRun).order_by(m.JobRun.id.desc()).limit(limit)))
