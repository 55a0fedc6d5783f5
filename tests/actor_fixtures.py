"""Platform users for tests that write: every write names a real user (or a system actor)."""

from __future__ import annotations

import sqlalchemy as sa

from qhse.domain import access
from qhse.domain.access import Scope


def act(bind, username: str, role: str = "admin", *, active: bool = True, site_ids: tuple[int, ...] = ()) -> Scope:
    """The Scope of user ``username`` (created if missing, all sites unless ``site_ids``).

    ``bind`` is an Engine, Connection or Session; the user row is written through it."""
    sql = sa.text("INSERT INTO user_account (username, display_name, password_hash, role, locale, all_sites, active) "
                  "VALUES (:u, :u, 'not-a-hash', :r, 'en', :all, :a) "
                  "ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role, active = EXCLUDED.active RETURNING id")
    params = {"u": username, "r": role, "all": not site_ids, "a": active}
    if isinstance(bind, sa.Engine):
        with bind.begin() as conn:
            uid = conn.execute(sql, params).scalar_one()
            _sites(conn, uid, site_ids)
    else:
        conn = bind.connection() if hasattr(bind, "connection") and not isinstance(bind, sa.Connection) else bind
        uid = conn.execute(sql, params).scalar_one()
        _sites(conn, uid, site_ids)
    return access.scope_for(user_id=uid, username=username, role=role, all_sites=not site_ids, site_ids=site_ids)


def _sites(conn, uid: int, site_ids) -> None:
    for sid in site_ids:
        conn.execute(sa.text("INSERT INTO user_site_scope (user_id, site_id) VALUES (:u, :s) ON CONFLICT DO NOTHING"),
                     {"u": uid, "s": sid})
