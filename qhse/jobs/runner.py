"""The job runner behind ``qhse worker``: periodic jobs, each under a PostgreSQL advisory lock.

Any number of worker processes may run against the same database.  Before running a job
a worker takes ``pg_try_advisory_lock(QHSE, crc32(job))`` on a connection of its own;
a worker that cannot get the lock leaves the job to the one that has it.  Holding the
lock, it checks again that the job is still due (another worker may have just finished
it), logs a ``job_run`` row (``running``), runs the job in its own transaction and
records the outcome (``ok`` / ``failed`` / ``skipped``), the duration and a one-line
detail.  A failing job never stops the worker; a worker that dies leaves its lock with
its connection, and the next worker to take the lock marks the dead run ``failed``.

The jobs themselves and their intervals are :mod:`qhse.jobs.schedule`.
"""

from __future__ import annotations

import datetime as dt
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
                detail = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                status = "failed"
            dur = time.perf_counter() - t0
            lock_conn.execute(sa.text(
                "UPDATE job_run SET status = :s, finished_at = :f, duration_s = :d, detail = :detail WHERE id = :id"),
                {"s": status, "f": dt.datetime.now(UTC), "d": dur, "detail": (detail or "")[:4000], "id": run_id})
            return Outcome(job.name, status, detail or "", dur)
        finally:
            lock_conn.execute(sa.text("SELECT pg_advisory_unlock(:ns, :k)"), {"ns": LOCK_NAMESPACE, "k": job.lock_key})


def run_once(engine: sa.Engine, jobs: list[Job], *, force: bool = False,
             on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run every due job once (in order), then return."""
    outs = []
    for job in jobs:
        try:
            o = run_job(engine, job, force=force)
        except sa.exc.OperationalError as exc:
            o = Outcome(job.name, "failed", f"database unavailable: {str(exc).strip().splitlines()[0]}")
            log.error("job %s: %s", job.name, o.detail)
        outs.append(o)
        if on_outcome:
            on_outcome(o)
    return outs


def run_forever(engine: sa.Engine, jobs: list[Job], *, tick_s: float = 5.0,
                stop: threading.Event | None = None, on_outcome: Callable[[Outcome], None] | None = None) -> None:
    """Loop until ``stop`` is set (or SIGTERM / SIGINT): run whichever jobs fall due."""
    stop = stop or threading.Event()
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
