"""AppTest helpers shared by the dashboard tests."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from .conftest import APP


def open_page(user_id: int | None, page: str | None = None, *, locale: str = "en", timeout: float = 60,
              state: dict | None = None) -> AppTest:
    """Run the app as ``user_id`` (signed in) and open ``page`` (e.g. "app_pages/admin.py")."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if user_id is not None:
        at.session_state["auth.user_id"] = user_id
        at.session_state["locale"] = locale
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def texts(at: AppTest) -> str:
    """Every text the page shows (titles, markdown, captions, alerts, metrics), for assertions."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info", "success", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    # As displayed: Markdown backslash escapes (user text is escaped, see dashboard.core.plain) removed.
    return _MD_ESCAPE.sub(r"\1", "\n".join(parts)).replace("\u2060", "")


_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def assert_ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
