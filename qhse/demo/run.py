"""``qhse demo``: the whole platform on embedded defaults and demo data.

Steps run in order; each prints what it did and where things are.  The long-running parts start
in this order: the embedded PostgreSQL, the MQTT broker with ingestion and the simulator, the job
runner (its first pass in the foreground, so queued notifications find the broker up, then every
job as it falls due, in the background for as long as the demo runs), the vision worker, and the
dashboard in the foreground.  Ctrl+C or SIGTERM stops everything the demo started, in reverse order.

The data directory is QHSE_DATA_DIR or ./.qhse; the demo records it (qhse.settings.remember_demo_data_dir)
so that ``qhse`` commands in another terminal find the demo's database without extra variables.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

import click

log = logging.getLogger(__name__)


def _step(title: str) -> None:
    click.secho(f"\n== {title}", fg="cyan", bold=True)


class Stopping(KeyboardInterrupt):
    """SIGTERM, turned into the same clean stop as Ctrl+C."""


class Started:
    """What the demo started, stopped in reverse order (each stop at most once, never raising)."""

    def __init__(self) -> None:
        self._stops: list[tuple[str, tuple[Callable[[], object], ...]]] = []

    def add(self, name: str, *steps: Callable[[], object]) -> None:
        """``steps`` stop ``name``, in this order."""
        self._stops.append((name, steps))

    def stop_all(self) -> None:
        while self._stops:
            name, steps = self._stops.pop()
            try:
                for step in steps:
                    step()
            except Exception as exc:  # noqa: BLE001 - stopping: report and go on with the rest
                click.echo(f"  stopping {name}: {exc}", err=True)
            else:
                click.echo(f"  stopped {name}")


def _on_sigterm(signum, frame) -> None:
    raise Stopping()


def run_demo(*, scale: str = "small", seed: int = 42, ui: bool = True, port: int = 8501, reset: bool = False) -> None:
    started = Started()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        _run(started, scale=scale, seed=seed, ui=ui, port=port, reset=reset)
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("\nstopping what the demo started ...")
        if in_main:  # a second Ctrl+C / SIGTERM while stopping must not cut the stop short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            started.stop_all()
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)
                signal.signal(signal.SIGINT, old_int)


def _run(started: Started, *, scale: str, seed: int, ui: bool, port: int, reset: bool) -> None:
    from db.engine import dispose_engines, get_engine
    from qhse.cli.support import UserError, _settings, database_url
    from qhse.demo.progress import demo_scorecards, print_seed_summary, run_seed
    from qhse.demo.seed import database_is_empty
    from qhse.settings import remember_demo_data_dir, reset_settings_cache

    _step("Settings and data directory")
    s = _settings()
    # The demo's own data directory (QHSE_DATA_DIR or ./.qhse), the same for every part it starts.
    data = s.data_dir.expanduser().resolve()
    os.environ["QHSE_DATA_DIR"] = str(data)
    reset_settings_cache()
    s = _settings()
    s.ensure_data_dir()
    click.echo(f"data directory: {s.data_path}")

    _step("Database")
    url = database_url(migrate=True)
    if not s.database_url:
        from db.embedded import stop_embedded_postgres

        started.add("embedded PostgreSQL", dispose_engines, stop_embedded_postgres)
        pointer = remember_demo_data_dir(data)
        click.echo(f"qhse commands in another terminal use this data directory (recorded in {pointer})")
    else:
        started.add("database connections", dispose_engines)
    with get_engine(url).connect() as conn:
        empty = database_is_empty(conn)
    if empty or reset:
        _step(f"Demo data ({scale}, seed {seed})")
        from qhse.demo.seed import SeedError

        try:
            summary = run_seed(url, scale=scale, seed=seed, reset=reset)
        except SeedError as exc:
            raise UserError(str(exc)) from None
        print_seed_summary(summary)
    else:
        click.echo("demo data already present (use --reset to re-seed)")

    _step("Assessment scorecards")
    demo_scorecards(get_engine(url), force=empty or reset)

    _step("Failure model: train on the demo data, register, promote if better, score")
    from ml.features import FeatureError
    from ml.pipeline import run_demo as run_ml_demo
    from ml.train import TrainingError

    try:
        for line in run_ml_demo(get_engine(url), progress=lambda msg: click.echo(f"  {msg} ...")).lines:
            click.echo(f"  {line}")
    except (FeatureError, TrainingError) as exc:
        click.echo(f"  failure model skipped: {exc}")

    # Before the job runner: notifications without another channel go to the broker.
    _step("Live sensor stream: MQTT broker, ingestion, simulator")
    from ingestion.live import start_live_stream

    stream = start_live_stream(url, s, excursion_every_s=60.0 if ui else 2.0)
    started.add("MQTT broker, ingestion and simulator", stream.stop)

    _step("Job runner: every periodic job now, then each as it falls due (qhse worker)")
    from qhse.jobs.runner import run_forever, run_once
    from qhse.jobs.schedule import JOBS

    for o in run_once(get_engine(url), list(JOBS)):
        click.echo(f"  {o.job:<20} {o.status:<8} {o.duration_s:6.2f} s  {o.detail}")

    def report(o) -> None:
        if o.status == "failed":
            click.echo(f"job {o.job} failed: {o.detail}", err=True)

    jobs_stop = threading.Event()
    jobs = threading.Thread(target=run_forever, args=(get_engine(url), list(JOBS)),
                            kwargs=dict(stop=jobs_stop, on_outcome=report), name="demo-jobs", daemon=True)
    jobs.start()
    started.add("job runner", jobs_stop.set, lambda: jobs.join(60))
    click.echo("  running in the background until the demo stops")

    _step("Vision worker: PPE detection on the demo cameras")
    from vision.worker import run as run_vision
    from vision.worker import start_in_background

    if ui:
        vision, vision_stop = start_in_background(engine=get_engine(url))
        started.add("vision worker", vision_stop.set, lambda: vision.join(30))
        click.echo("  running in the background; new PPE violations appear in the review queue")
    else:
        # Without the dashboard: run the camera worker for a while (readings keep flowing), then stop both.
        stats = run_vision(duration_s=20.0, engine=get_engine(url))
        for st in stats.get("cameras", {}).values():
            click.echo(f"  {st['name']:<10} frames {st['frames']:>4}  detections run {st['detect_runs']:>4}  "
                       f"events {st['events_started']:>2}  errors {st['write_errors']}")
        stream.stop()
        st = stream.stats()
        click.echo(f"  live stream: published {st['published']:,} readings, stored {st['readings']:,}, "
                   f"dead letters {st['dead_letters']:,}, alarms raised {st['alarms_raised']}")

    _step("Summary")
    from db.queries.summary import platform_summary

    for k, v in platform_summary(get_engine(url)).items():
        click.echo(f"  {k:<28} {v:,}" if isinstance(v, int) else f"  {k:<28} {v}")

    # Keep these two steps last: the accounts table ends the start-up; the dashboard runs until stopped.
    _step("Dashboard accounts")
    from qhse.demo.accounts import ensure_accounts, print_accounts

    print_accounts(ensure_accounts(get_engine(url), s.data_path), s.data_path)

    if ui:
        _step("Dashboard")
        from dashboard.launch import run_dashboard

        click.echo(f"open http://127.0.0.1:{port} and sign in with one of the accounts above "
                   "(Ctrl+C stops the demo and everything it started)")
        run_dashboard(port=port, database_url=url)
