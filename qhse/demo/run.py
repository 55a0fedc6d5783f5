"""``qhse demo``: the whole platform on embedded defaults and demo data.

Steps run in order; each prints what it did and where things are.  Long-running parts
(broker, ingestion, simulator, vision worker, job runner) run in the background while the
dashboard runs in the foreground; Ctrl+C stops everything cleanly.
"""

from __future__ import annotations

import click


def _step(title: str) -> None:
    click.secho(f"\n== {title}", fg="cyan", bold=True)


def run_demo(*, scale: str = "small", seed: int = 42, ui: bool = True, port: int = 8501, reset: bool = False) -> None:
    from db.engine import get_engine
    from qhse.cli.support import UserError, _settings, database_url
    from qhse.demo.progress import demo_scorecards, print_seed_summary, run_seed
    from qhse.demo.seed import database_is_empty

    _step("Settings and data directory")
    s = _settings()
    s.ensure_data_dir()
    click.echo(f"data directory: {s.data_path}")

    _step("Database")
    url = database_url(migrate=True)
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

    _step("Job runner: every periodic job once (qhse worker --once)")
    from qhse.jobs.runner import run_once
    from qhse.jobs.schedule import JOBS

    for o in run_once(get_engine(url), list(JOBS)):
        click.echo(f"  {o.job:<20} {o.status:<8} {o.duration_s:6.2f} s  {o.detail}")

    _step("Live sensor stream: MQTT broker, ingestion, simulator")
    from ingestion.live import start_live_stream

    # Runs in the background while the dashboard is open (stopped when the demo exits); without the
    # dashboard it runs while the vision step below runs, then stops.
    stream = start_live_stream(url, s, excursion_every_s=60.0 if ui else 2.0)

    _step("Vision worker: PPE detection on the demo cameras")
    from vision.worker import run as run_vision
    from vision.worker import start_in_background

    if ui:
        start_in_background(engine=get_engine(url))
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


    # Keep these two steps last: the dashboard runs in the foreground until Ctrl+C.
    _step("Dashboard users (one per role)")
    from qhse.services.auth import ensure_demo_users

    for d, password in ensure_demo_users(get_engine(url)):
        where = ", ".join(d.sites) if d.sites else "all sites"
        click.echo(f"  {d.username:<16} {password:<14} {d.role:<15} {where}")
    click.echo("  (passwords are new on every run of `qhse demo`; change one with `qhse user passwd NAME`)")

    if ui:
        _step("Dashboard")
        from dashboard.launch import run_dashboard

        click.echo(f"open http://127.0.0.1:{port} and sign in with one of the accounts above (Ctrl+C stops)")
        run_dashboard(port=port, database_url=url)
