"""The demo's accounts: one per role, passwords generated once per data directory.

The passwords live in ``<data_dir>/demo-passwords`` (mode 0600, one ``username password`` a line), so
every start of ``qhse demo`` on the same data directory prints the same ones.  A password changed
with ``qhse user passwd NAME`` is kept (the demo never resets it); the table then says so.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from qhse.services.auth import DemoUser

PASSWORD_FILE = "demo-passwords"
_LINE = re.compile(r"^(\S+) ([A-Za-z0-9_-]{12,})$")


def load_passwords(data_dir: Path, usernames: list[str]) -> tuple[dict[str, str], set[str]]:
    """The kept password of each of ``usernames`` (made for the missing ones) and the names made now."""
    path = Path(data_dir) / PASSWORD_FILE
    kept: dict[str, str] = {}
    if path.exists():
        os.chmod(path, 0o600)
        for line in path.read_text().splitlines():
            m = _LINE.match(line.strip())
            if m:
                kept[m.group(1)] = m.group(2)
    new = {u for u in usernames if u not in kept}
    if new or not path.exists():
        for u in sorted(new):
            kept[u] = secrets.token_urlsafe(12)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("# qhse demo accounts: username password (change one with `qhse user passwd NAME`)\n")
            f.writelines(f"{u} {kept[u]}\n" for u in kept)
        os.replace(tmp, path)
    return {u: kept[u] for u in usernames}, new


def ensure_accounts(engine, data_dir: Path) -> list[tuple[DemoUser, str | None]]:
    """Create or enable the demo accounts with their kept passwords; (DemoUser, password or None)."""
    from qhse.services.auth import DEMO_USERS, ensure_demo_users

    passwords, new = load_passwords(data_dir, [d.username for d in DEMO_USERS])
    return ensure_demo_users(engine, passwords, reset=new)


def print_accounts(accounts, data_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Dashboard accounts (one per role)")
    for col in ("user", "password", "role", "sites"):
        t.add_column(col)
    for d, password in accounts:
        t.add_row(d.username, password or "(changed with qhse user passwd)", d.role,
                  ", ".join(d.sites) if d.sites else "all sites")
    Console(width=max(100, Console().width)).print(t)
    click.echo(f"The passwords stay the same on every start with this data directory (kept in "
               f"{Path(data_dir) / PASSWORD_FILE}, mode 0600). Change one with `qhse user passwd NAME`; "
               "the demo keeps a changed password.")
