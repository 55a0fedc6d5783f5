"""What every command module shares: the one error type (one line on stderr, exit 2), the one way
to get an engine (``open_engine``), ``--as USERNAME``, look-ups by code and time parsing.

Command modules (``qhse/cli/<noun>.py``, ``ingestion/cli.py``, ``vision/cli.py``) import only this
module of the CLI, never each other nor the root group (``qhse/cli/root.py``).
"""

from __future__ import annotations

import importlib

import click

from qhse.settings import SettingsError, get_settings


class LazyGroup(click.Group):
    """A group whose subcommands are named in a registry (``name -> "module:attribute"``) and imported
    on first use: when the command runs or when ``--help`` lists it."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        target = self.lazy.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        cmd = getattr(importlib.import_module(module), attr)
        if not isinstance(cmd, click.Command):
            raise TypeError(f"{target} is not a click command")
        if cmd.name != name:  # e.g. kpi_cmd registered as "kpi"
            raise TypeError(f"{target} is named {cmd.name!r}, registered as {name!r}")
        self.commands[name] = cmd
        return cmd


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _settings():
    try:
        return get_settings()
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def _note_new_embedded(s) -> None:
    """Say so when this command is about to create a new, empty embedded database."""
    if s.database_url:
        return
    try:
        path = s.ensure_data_dir()  # an unusable data directory is the error to show, not this note
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    if (path / "pgdata" / "PG_VERSION").exists():
        return
    click.echo(f"note: no database in {s.data_path}: creating a new, empty embedded database there "
               "(a demo's data is found where `qhse demo` last ran, or name it with QHSE_DATA_DIR)", err=True)


def migration_url() -> str:
    """The schema owner's URL (QHSE_MIGRATION_DATABASE_URL, see db.engine.resolve_migration_url), checked."""
    from db.engine import check_connection, resolve_migration_url

    s = _settings()
    _note_new_embedded(s)
    try:
        url = resolve_migration_url(s)
        check_connection(url, "QHSE_MIGRATION_DATABASE_URL" if s.migration_database_url else "QHSE_DATABASE_URL")
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    return url


def database_url(*, migrate: bool = False, quiet: bool = False) -> str:
    """Resolve (and check) the application's database URL; optionally bring the schema up to date
    (as the schema owner)."""
    from db.engine import check_connection, describe_url, resolve_database_url

    s = _settings()
    _note_new_embedded(s)
    try:
        url = resolve_database_url(s)
        check_connection(url)
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    if not quiet:
        where = "embedded PostgreSQL, data in " + str(s.data_path / "pgdata") if not s.database_url else "PostgreSQL"
        click.echo(f"database: {where} ({describe_url(url)})", err=True)
    if migrate:
        from db.migrate import is_up_to_date, upgrade

        if not is_up_to_date(url):
            upgrade(migration_url())
    return url


def as_user_option(*aliases: str, help_extra: str = ""):
    """``--as USERNAME`` (plus validated aliases such as ``--actor``): the platform user a write runs as."""
    return click.option("--as", *aliases, "as_user", required=True, metavar="USERNAME",
                        help="Platform user the change is made and audited as (must exist, be active and "
                        "hold the permission)" + help_extra + ".")


def acting_user(engine, username: str, permission: str | None = None):
    """The Scope of ``--as USERNAME``; a one-line error (exit 2) for an unknown, disabled or unauthorised user."""
    from qhse.services.actors import ActorError, resolve_user

    try:
        return resolve_user(engine, username, permission)
    except ActorError as exc:
        raise UserError(str(exc)) from None


# ------------------------------------------------------------------ one way to get an engine
def open_engine(*, migrate: bool = True, quiet: bool = True):
    """The application's Engine for the configured database, its schema brought up to date."""
    from db.engine import get_engine

    return get_engine(database_url(migrate=migrate, quiet=quiet))


def rule_errors() -> tuple[type[Exception], ...]:
    """Rule violations that a user can fix: shown as one line, exit 2."""
    from qhse.domain.dispatch import DispatchError
    from qhse.domain.incentives import IncentiveError
    from qhse.domain.inspections import InspectionError
    from qhse.domain.notify import NotifyError
    from qhse.domain.recurrence import RecurrenceError
    from qhse.domain.sla import SlaError
    from qhse.domain.workflow import WorkflowError

    return (WorkflowError, SlaError, DispatchError, InspectionError, NotifyError, IncentiveError, RecurrenceError)


# ------------------------------------------------------------------------------ look-ups
def site_filter(eng, site_code: str | None) -> list[int] | None:
    """[id] of the site with this code (a clear error if unknown); None for every site."""
    if not site_code:
        return None
    from db.engine import session_scope
    from db.models import Site

    with session_scope(eng) as s:
        return [by_code(s, Site, site_code, "site").id]


def by_code(s, model, code: str, what: str, **filters):
    """The row of ``model`` with this code (and ``filters``); a one-line error listing the known codes."""
    import sqlalchemy as sa

    q = sa.select(model).where(model.code == code)
    for k, v in filters.items():
        q = q.where(getattr(model, k) == v)
    obj = s.scalar(q)
    if obj is None:
        known = s.scalars(sa.select(model.code).filter_by(**filters).order_by(model.code).limit(30)).all()
        raise UserError(f"unknown {what} {code!r} (known: {', '.join(known) or 'none'})")
    return obj


def person_by_number(s, employee_no: str):
    import sqlalchemy as sa

    from db.models import Person

    p = s.scalar(sa.select(Person).where(Person.employee_no == employee_no))
    if p is None:
        raise UserError(f"no person with employee number {employee_no!r}")
    return p


def resolve_ref(fn, engine, ref):
    """``fn(engine, ref)`` from db.queries.refs, its RefError as a one-line error."""
    from db.queries.refs import RefError

    try:
        return fn(engine, ref)
    except RefError as exc:
        raise UserError(str(exc)) from None


# --------------------------------------------------------------------------- times, cells
def iso_time(value: str | None):
    """An ISO 8601 time (UTC when it has no offset); None for None."""
    import datetime as dt

    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{value!r} is not a date/time (use ISO 8601, e.g. 2026-11-03T14:00+08:00)") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def local_time(value: str | None, what: str = "time"):
    """A time written YYYY-MM-DD [HH:MM[:SS]] or ISO 8601; without a zone read in QHSE_TIMEZONE; in UTC."""
    import datetime as dt

    if value is None:
        return None
    v = value.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            t = dt.datetime.strptime(v, fmt)
            break
        except ValueError:
            continue
    else:
        try:
            t = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise UserError(f"{what} {value!r}: use YYYY-MM-DD HH:MM (local time) or ISO 8601") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_settings().tz)
    return t.astimezone(dt.UTC)


def parse_date(value: str, what: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"{what} {value!r}: use YYYY-MM-DD") from None


def fmt_time(t) -> str:
    return "-" if t is None or t != t else f"{t:%Y-%m-%d %H:%M}"


def cell(v) -> str:
    """A table cell: '-' for missing values (None, NaN)."""
    return "-" if v is None or v != v else str(v)


def print_table(title: str, frame, columns: list[str] | None = None, limit: int | None = None) -> None:
    """A DataFrame as a rich table (empty cells for missing values), at most ``limit`` rows."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    cols = columns or list(frame.columns)
    for c in cols:
        t.add_column(c)
    rows = frame if limit is None else frame.head(limit)
    for _, r in rows.iterrows():
        t.add_row(*["" if (v is None or (isinstance(v, float) and v != v)) else str(v) for v in (r[c] for c in cols)])
    Console().print(t)
    if limit is not None and len(frame) > limit:
        click.echo(f"... {len(frame) - limit} more rows")
