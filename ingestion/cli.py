"""``qhse ingest``, ``qhse simulate``, ``qhse import``, ``qhse alarm``.

Only click is imported at module level (``qhse --help`` stays fast); every command imports
what it needs.  Problems a user can fix print one line and exit with status 2.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from qhse.cli.support import UserError, _settings, acting_user, as_user_option, database_url, open_engine
from qhse.vocab import AlarmSeverity, values


def _broker(s) -> tuple[str, bool]:
    from ingestion.broker import BrokerError, resolve_mqtt_url

    try:
        return resolve_mqtt_url(s)
    except BrokerError as exc:
        raise UserError(str(exc)) from None


def _logging(level: str) -> None:
    import logging

    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


def _broker_address(url: str, s=None):
    """The broker address with QHSE_MQTT_USERNAME / _PASSWORD / _CA_FILE applied."""
    from ingestion.mqtt import MqttUrlError, settings_address

    try:
        return settings_address(url, s or _settings())
    except MqttUrlError as exc:
        raise UserError(str(exc)) from None


def _mqtt_v5(url: str, s=None) -> bool:
    """Does the broker speak MQTT v5?  Probed with the client's own credentials and TLS."""
    from ingestion.broker import BrokerAuthError, probe_mqtt5

    try:
        return probe_mqtt5(_broker_address(url, s))
    except BrokerAuthError as exc:
        raise UserError(str(exc)) from None


# ---------------------------------------------------------------------------------- ingest
@click.command()
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Consumer processes on the shared subscription.")
@click.option("--client-id", default=None,
              help="MQTT client id; keep it stable across restarts: it names the persistent session and the spool. "
                   "Required with a shared subscription (--workers > 1 or --group). "
                   "[default: QHSE_MQTT_CLIENT_ID, else qhse-ingest-<hostname> for a single unshared consumer]")
@click.option("--topic-root", default="qhse", show_default=True, help="First topic level.")
@click.option("--group", default=None,
              help="Shared subscription group ($share/<group>/...): consumers with the same group split the readings. "
                   "[default: qhse when --workers > 1, else no shared subscription]")
@click.option("--batch-size", type=click.IntRange(1, 1_000_000), default=20_000, show_default=True,
              help="Most messages per database transaction.")
@click.option("--batch-ms", type=click.FloatRange(1, 10_000), default=200.0, show_default=True,
              help="Longest a batch waits for more messages, only while they keep arriving and a batch already "
                   "waits for the database (a reading on a quiet line is written at once).")
@click.option("--receive-maximum", type=click.IntRange(100, 65535), default=65_535, show_default=True,
              help="Unacknowledged QoS 1 messages the broker may send ahead (MQTT v5).")
@click.option("--session-expiry", type=click.IntRange(0, 2**32 - 2), default=None,
              help="Seconds the broker keeps the session (and queues messages) while the consumer is away. "
                   "[default: QHSE_MQTT_SESSION_EXPIRY_S, 7 days]")
@click.option("--spool-max-mb", type=click.IntRange(1, 1_000_000), default=1024, show_default=True,
              help="On-disk spool limit used while PostgreSQL is unreachable.")
@click.option("--max-age-days", type=click.FloatRange(0.001, 3650), default=7.0, show_default=True,
              help="Readings older than this at receipt go to the dead-letter table.")
@click.option("--stats-every", type=click.FloatRange(0.5, 3600), default=10.0, show_default=True,
              help="Seconds between progress lines.")
@click.option("--inbox-max-mb", type=click.IntRange(1, 1_000_000), default=64, show_default=True,
              help="Received payload bytes held in memory before the consumer stops reading from the broker.")
@click.option("--inbox-max-messages", type=click.IntRange(100, 100_000_000), default=100_000, show_default=True,
              help="Received messages held in memory before the consumer stops reading from the broker.")
def ingest(workers: int, client_id: str | None, topic_root: str, group: str | None, batch_size: int, batch_ms: float,
           receive_maximum: int, session_expiry: int | None, spool_max_mb: int, max_age_days: float,
           stats_every: float, inbox_max_mb: int = 64, inbox_max_messages: int = 100_000) -> None:
    """Consume sensor readings from MQTT into PostgreSQL and evaluate the alarm rules."""
    import socket

    from ingestion.consumer import Consumer, ConsumerConfig, run_workers
    from ingestion.spool import SpoolError, check_dir
    from ingestion.topics import check_root

    s = _settings()
    _logging(s.log_level)
    try:
        check_root(topic_root)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    shared = workers > 1 or group is not None
    client_id = client_id or s.mqtt_client_id
    if shared and not client_id:
        raise UserError(
            "a shared subscription (--workers > 1 or --group) needs a stable client id: set QHSE_MQTT_CLIENT_ID "
            "or --client-id (a new id at every start leaves the old persistent session behind, and the broker "
            "keeps giving it its share of the readings until the session expires)")
    try:
        check_dir(s.data_path / "spool")
    except SpoolError as exc:
        raise UserError(f"QHSE_DATA_DIR: {exc}") from None
    db_url = _resolve_db_for_ingest(s)
    mqtt_url, embedded = _broker(s)
    addr = _broker_address(mqtt_url, s)
    v5 = _mqtt_v5(mqtt_url, s)
    if shared and not v5:
        raise UserError(f"{'--workers ' + str(workers) if workers > 1 else '--group'} needs an MQTT v5 broker "
                               f"with shared subscriptions ({addr.url} speaks MQTT 3.1.1 only); "
                               "set QHSE_MQTT_URL to Mosquitto or EMQX")
    if not v5 and not embedded:
        click.echo(f"warning: {addr.url} does not speak MQTT v5; using MQTT 3.1.1 (no shared subscription, "
                   "no session expiry)", err=True)
    expiry = s.mqtt_session_expiry_s if session_expiry is None else session_expiry
    cfg = ConsumerConfig(
        mqtt_url=addr.url, mqtt_username=addr.username, mqtt_password=addr.password, mqtt_ca_file=addr.ca_file,
        database_url=db_url, spool_dir=s.data_path / "spool", root=topic_root,
        share_group=(group or "qhse") if shared else None,
        client_id=client_id or f"qhse-ingest-{socket.gethostname()}",
        mqtt_v5=v5, receive_maximum=receive_maximum, session_expiry_s=expiry, batch_max=batch_size,
        batch_ms=batch_ms, spool_max_bytes=spool_max_mb << 20, max_age_s=max_age_days * 86400,
        heartbeat_stale_s=s.heartbeat_stale_s, inbox_max_messages=inbox_max_messages,
        inbox_max_bytes=inbox_max_mb << 20)
    click.echo(f"ingest: {addr.url}{' (embedded broker)' if embedded else ''}, MQTT {'v5' if v5 else '3.1.1'}, "
               f"client id {cfg.client_id}, session expiry {expiry:,} s, "
               f"topics {topic_root}/+/+/+/+/telemetry and {topic_root}/+/gateway/telemetry"
               f"{' shared as $share/' + cfg.share_group if cfg.share_group else ''}, "
               f"{workers} worker{'s' if workers > 1 else ''}; Ctrl+C stops", err=True)
    if workers > 1:
        run_workers(cfg, workers, log_level=s.log_level.upper(),
                    report=lambda st: click.echo(f"workers alive: {st['alive']}/{st['workers']}", err=True),
                    report_every_s=stats_every)
        return
    consumer = Consumer(cfg)
    state = {"t": time.monotonic(), "n": 0}

    def report(st: dict) -> None:
        now = time.monotonic()
        rate = (st["received"] - state["n"]) / max(1e-6, now - state["t"])
        state.update(t=now, n=st["received"])
        click.echo(f"received {st['received']:,} ({rate:,.0f}/s)  readings {st['readings']:,}  "
                   f"duplicates {st['duplicates']:,}  dead letters {st['dead_letters']:,}  "
                   f"spooled {st['spooled']:,} replayed {st['replayed']:,} (spool {st['spool_segments']} segments)  "
                   f"alarms +{st['alarms_raised']}/-{st['alarms_cleared']}  db {st['db']}  "
                   f"writer s: " + " ".join(f"{k} {v:.1f}" for k, v in st["timings"].items())
                   + (f"  error: {st['spool_error']}" if st.get("spool_error") else ""), err=True)

    consumer.run_forever(report=report, report_every_s=stats_every)


def _resolve_db_for_ingest(s) -> str:
    """The database URL; with QHSE_DATABASE_URL set, an unreachable server is not fatal (spool)."""
    if s.database_url:
        from db.engine import check_connection
        from qhse.settings import SettingsError

        try:
            check_connection(s.database_url)
        except SettingsError as exc:
            click.echo(f"warning: {exc}; spooling until it is reachable", err=True)
            return s.database_url
    return database_url(migrate=True, quiet=True)


# -------------------------------------------------------------------------------- simulate
@click.command()
@click.option("--rate", type=click.FloatRange(0.01, 1_000_000), default=None,
              help="Readings per second (all sensors together). [default: each sensor at its sample period]")
@click.option("--duration", type=click.FloatRange(0.1, None), default=None, help="Stop after this many seconds.")
@click.option("--count", type=click.IntRange(1, None), default=None, help="Stop after this many readings.")
@click.option("--malformed-ratio", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of messages made faulty on purpose "
                   "(bad JSON, unknown sensor, wrong unit, bad ts, bad value).")
@click.option("--gateway", is_flag=True, help="Publish gateway batches per site instead of one message per reading.")
@click.option("--batch", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Readings per gateway message.")
@click.option("--site", "sites", multiple=True, help="Only this site code (repeat for several).")
@click.option("--excursion-every", type=click.FloatRange(1, None), default=120.0, show_default=True,
              help="Mean seconds between gas/temperature/vibration excursions (over all sensors).")
@click.option("--period", type=click.FloatRange(0.01, 3600), default=5.0, show_default=True,
              help="Sample period of each sensor in seconds (without --rate).")
@click.option("--topic-root", default="qhse", show_default=True)
@click.option("--seed", "seed_", type=int, default=None, help="Random seed (repeatable runs).")
def simulate(rate: float | None, duration: float | None, count: int | None, malformed_ratio: float, gateway: bool,
             batch: int, sites: tuple[str, ...], excursion_every: float, period: float, topic_root: str,
             seed_: int | None) -> None:
    """Publish realistic readings for the seeded sensors (with excursions) to MQTT."""
    from ingestion.simulator import SimulatorError, run_simulator

    s = _settings()
    _logging(s.log_level)
    db_url = database_url(migrate=True, quiet=True)
    mqtt_url, embedded = _broker(s)
    try:
        summary = run_simulator(db_url=db_url, mqtt_url=mqtt_url, rate=rate, duration=duration, count=count,
                                malformed_ratio=malformed_ratio, gateway=gateway, batch=batch, sites=list(sites),
                                excursion_every_s=excursion_every, period_s=period, root=topic_root, seed=seed_,
                                mqtt_v5=_mqtt_v5(mqtt_url, s), progress=True)
    except SimulatorError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"published {summary.readings:,} readings in {summary.messages:,} messages "
               f"({summary.malformed:,} malformed on purpose, {summary.excursions:,} excursions) "
               f"in {summary.seconds:.1f} s = {summary.readings / max(summary.seconds, 1e-9):,.0f} readings/s "
               f"to {_broker_address(mqtt_url, s).url}")
    if embedded:
        click.echo("note: the embedded broker stops with this command; run `qhse ingest` in parallel, "
                   "or set QHSE_MQTT_URL", err=True)


# ---------------------------------------------------------------------------------- import
_IMPORT_KINDS = ["org", "assets", "sensor-kinds", "sensors", "readings", "failures", "maintenance", "events", "people",
                 "training", "hours", "incidents", "ai4i"]


@click.command("import")
@click.argument("kind", type=click.Choice(_IMPORT_KINDS))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True,
              help="Import the valid rows and report the bad ones (default: all or nothing).")
@click.option("--as", "as_user", default=None, metavar="USERNAME",
              help="Platform user the import is made and audited as (needs manage_plant on the rows' sites). "
                   "[default: the operator at the shell, audited as system:import]")
@click.option("--site", default=None, help="readings: the site whose sensor codes the file uses.")
@click.option("--enterprise", default=None,
              help="org: the enterprise new regions belong to. [default: the only one there is]")
@click.option("--asset", "asset_code", default=None, help="ai4i: the asset whose history the file is.")
@click.option("--start", default=None,
              help="ai4i: time of the first row (ISO 8601, UTC if no zone). "
                   "[default: the file ends at the last full hour]")
@click.option("--interval", "interval_s", type=click.FloatRange(1, 86400), default=300.0, show_default=True,
              help="ai4i: seconds between rows.")
@click.option("--max-errors", type=click.IntRange(1, 100000), default=20, show_default=True,
              help="How many row errors to print.")
def import_cmd(kind: str, files: tuple[Path, ...], skip_bad: bool, as_user: str | None, site: str | None,
               enterprise: str | None, asset_code: str | None, start: str | None, interval_s: float,
               max_errors: int) -> None:
    """Import files: org, assets, sensor-kinds, sensors, readings (CSV or Parquet), failures, maintenance,
    events, people, training (records), hours (worked), incidents, ai4i (machine history).

    Every row is validated; an error names its line and column.  Nothing of a file is imported
    when one of its rows is bad, unless --skip-bad.  Each file is its own transaction.
    `qhse import-columns KIND` shows the columns of each kind.
    """
    from ingestion.importers import DEFAULT_ACTOR, ImportFileError, run_import
    from qhse.domain.access import MANAGE_PLANT, AccessDenied
    from qhse.services.actors import ActorError

    if len(files) > 1 and kind != "readings":
        raise UserError(f"{kind}: one file at a time (several files are for readings)")
    for file in files:
        if not file.exists():
            raise UserError(f"{file}: no such file")
    engine = open_engine()
    actor = acting_user(engine, as_user, MANAGE_PLANT) if as_user else DEFAULT_ACTOR
    failed = 0
    for file in files:
        try:
            report = run_import(kind, file, engine=engine, skip_bad=skip_bad, asset_code=asset_code, start=start,
                                interval_s=interval_s, progress=True, actor=actor, site=site, enterprise=enterprise)
        except (ImportFileError, ActorError, AccessDenied) as exc:
            raise UserError(str(exc)) from None
        for e in report.errors[:max_errors]:
            click.echo(f"{file}: {e}", err=True)
        if report.error_count > max_errors:
            click.echo(f"... and {report.error_count - max_errors:,} more errors", err=True)
        if report.error_count and not skip_bad:
            if len(files) == 1:
                raise UserError(f"{report.error_count:,} bad row(s) in {file}; nothing imported "
                                "(fix them, or use --skip-bad to import the valid rows)")
            click.echo(f"{file}: {report.error_count:,} bad row(s); nothing imported from it", err=True)
            failed += 1
            continue
        click.echo(report.summary() + (f" ({file})" if len(files) > 1 else ""))
        for line in report.notes:
            click.echo(line)
    if failed:
        raise UserError(f"{failed} file(s) with bad rows; nothing imported from them "
                        "(fix them, or use --skip-bad to import the valid rows)")


@click.command("import-columns")
@click.argument("kind", type=click.Choice(_IMPORT_KINDS), required=False)
def import_columns(kind: str | None) -> None:
    """Show the columns each import file must have."""
    from ingestion.importers import describe_columns

    click.echo(describe_columns(kind))


# ----------------------------------------------------------------------------------- alarm
@click.group()
def alarm() -> None:
    """Alarms raised by the sensor rules: list, acknowledge, clear."""


@alarm.command("list")
@click.option("--all", "all_", is_flag=True, help="Include cleared alarms.")
@click.option("--site", default=None, help="Only this site code.")
@click.option("--severity", type=click.Choice(values(AlarmSeverity)), default=None)
@click.option("--limit", type=click.IntRange(1, 100000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def alarm_list(all_: bool, site: str | None, severity: str | None, limit: int, as_json: bool) -> None:
    """List alarms, newest first (open and acknowledged ones unless --all)."""
    import dataclasses
    import json

    from ingestion.alarms import list_alarms

    with open_engine().connect() as conn:
        rows = list_alarms(conn, open_only=not all_, site=site, severity=severity, limit=limit)
    if as_json:
        for r in rows:
            click.echo(json.dumps(dataclasses.asdict(r), default=str))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{len(rows)} alarm(s)")
    for c in ("id", "status", "severity", "rule", "site/area", "sensor", "raised", "last", "peak", "updates", "ack by"):
        t.add_column(c)
    for r in rows:
        t.add_row(str(r.id), r.status, r.severity, r.rule, f"{r.site}/{r.area}", r.sensor,
                  f"{r.raised_at:%Y-%m-%d %H:%M:%S}", f"{r.last_value:.4g}", f"{r.peak_value:.4g}", str(r.update_count),
                  r.acknowledged_by or "-")
    Console().print(t)


@alarm.command("ack")
@click.argument("alarm_id", type=int)
@as_user_option(help_extra=" (ack_alarms on the alarm's site)")
@click.option("--note", default=None)
def alarm_ack(alarm_id: int, as_user: str, note: str | None) -> None:
    """Acknowledge an open alarm."""
    _alarm_act(alarm_id, as_user, "acknowledge", note)


@alarm.command("clear")
@click.argument("alarm_id", type=int)
@as_user_option(help_extra=" (ack_alarms on the alarm's site)")
@click.option("--note", default=None, help="Why (e.g. sensor replaced).")
def alarm_clear(alarm_id: int, as_user: str, note: str | None) -> None:
    """Clear an alarm by hand."""
    _alarm_act(alarm_id, as_user, "clear", note)


def _alarm_act(alarm_id: int, as_user: str, action: str, note: str | None) -> None:
    """Acknowledge or clear as ``--as USERNAME`` (qhse.services.alarms.act: permission, update, audit, NOTIFY)."""
    from qhse.domain.access import ACK_ALARMS, AccessDenied
    from qhse.services.alarms import AlarmError, act

    engine = open_engine()
    who = acting_user(engine, as_user, ACK_ALARMS)
    try:
        act(engine, who, alarm_id, action, note=note)
    except (AlarmError, AccessDenied) as exc:
        raise UserError(str(exc)) from None
    click.echo(f"alarm {alarm_id} {'acknowledged' if action == 'acknowledge' else 'cleared'} by {who.username}")

