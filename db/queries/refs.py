"""Resolve the references people type (``SITE/AREA``, employee numbers, company names) to ids."""

from __future__ import annotations

import sqlalchemy as sa


class RefError(LookupError):
    """A reference that matches nothing (the message lists what would)."""


def area_id(engine: sa.Engine, ref: str) -> int:
    """``SZ-ELEC/CHEM`` (site code / area code) -> area id."""
    site, _, area = (ref or "").partition("/")
    if not site or not area:
        raise RefError(f"area {ref!r}: write it as SITE/AREA, e.g. SZ-ELEC/CHEM")
    with engine.connect() as conn:
        aid = conn.execute(sa.text("""SELECT a.id FROM area a JOIN site s ON s.id = a.site_id
                                      WHERE upper(s.code) = upper(:s) AND upper(a.code) = upper(:a)"""),
                           {"s": site.strip(), "a": area.strip()}).scalar()
        if aid is None:
            known = conn.execute(sa.text("""SELECT s.code || '/' || a.code FROM area a JOIN site s ON s.id = a.site_id
                                            WHERE upper(s.code) = upper(:s) ORDER BY 1"""),
                                 {"s": site.strip()}).scalars().all()
    if aid is None:
        hint = f" (areas of {site}: {', '.join(known)})" if known else f" (no site {site!r})"
        raise RefError(f"no area {ref!r}{hint}")
    return int(aid)


def site_id(engine: sa.Engine, code: str) -> int:
    with engine.connect() as conn:
        sid = conn.execute(sa.text("SELECT id FROM site WHERE upper(code) = upper(:c)"), {"c": code.strip()}).scalar()
        if sid is None:
            known = conn.execute(sa.text("SELECT code FROM site ORDER BY code")).scalars().all()
    if sid is None:
        raise RefError(f"no site {code!r} (sites: {', '.join(known)})")
    return int(sid)


def person_id(engine: sa.Engine, employee_no: str) -> int:
    with engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT id FROM person WHERE upper(employee_no) = upper(:n)"),
                           {"n": employee_no.strip()}).scalar()
    if pid is None:
        raise RefError(f"no person with employee number {employee_no!r}")
    return int(pid)


def company_id(engine: sa.Engine, ref: str) -> int:
    """A contractor company by id or by (case-insensitive) name."""
    with engine.connect() as conn:
        if ref.strip().isdigit():
            cid = conn.execute(sa.text("SELECT id FROM contractor_company WHERE id = :i"), {"i": int(ref)}).scalar()
        else:
            cid = conn.execute(sa.text("SELECT id FROM contractor_company WHERE lower(name) = lower(:n)"),
                               {"n": ref.strip()}).scalar()
    if cid is None:
        raise RefError(f"no contractor company {ref!r} (give its id or exact name; see 'qhse contractor list')")
    return int(cid)


def user_role(engine: sa.Engine, username: str) -> str | None:
    """The role of an active user account (None: no such user)."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT role FROM user_account WHERE username = :u AND active"),
                            {"u": username}).scalar()
