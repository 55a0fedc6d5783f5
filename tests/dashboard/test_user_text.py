"""User-entered text is shown as the characters typed: no image, link or formatting from Markdown."""

from __future__ import annotations

import re

import sqlalchemy as sa
from markdown_it import MarkdownIt

from dashboard.core import plain
from db.queries import users
from qhse.services.access import scope_for_user
from qhse.services.hazard_intake import report

from .conftest import site_id
from .helpers import assert_ok, open_page

EVIL = ("![x](http://evil.example/p.png) [click](http://evil.example) www.evil.example <b>bold</b> :red[alarm] "
        "boss@evil.example")
_md = MarkdownIt("commonmark")
# GFM turns bare http:// and www. text into links; an escaped one ("http\://", "www\.") is left alone.
# Streamlit's renderer links those even when escaped, so plain() breaks them with an invisible word joiner.
_BARE_URL = re.compile(r"https?\\?:|\bwww\\?\.|\w@", re.IGNORECASE)


def rendered_sources(at) -> list[str]:
    """The Markdown source of every element Streamlit renders as Markdown."""
    out = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info", "success"):
        out += [str(e.value) for e in getattr(at, kind)]
    for e in at.get("expandable"):
        out.append(str(getattr(e, "label", "")))
    return out


def assert_inert(sources: list[str]) -> None:
    for src in sources:
        if "evil" not in src:
            continue
        html = _md.render(src)
        assert "<img" not in html and "<a " not in html and "<b>" not in html, (src, html)
        assert not _BARE_URL.search(src), src


def test_plain_escapes_every_markdown_construct():
    html = _md.render(plain(EVIL + "\n# heading\n- item\n1. step"))
    assert "<img" not in html and "<a " not in html and "<h1>" not in html and "<li>" not in html
    assert "![x](http://evil.example/p.png)" in html.replace("&lt;", "<").replace("&gt;", ">").replace("\u2060", "")
    assert not _BARE_URL.search(plain(EVIL))
    assert plain(None) == "" and plain("Drum 3 leaking") == "Drum 3 leaking"


def test_hazard_title_with_markdown_renders_as_text(dash_env, dash_users, dash_engine, dash_data_dir):
    elec = site_id(dash_engine, "SZ-ELEC")
    with dash_engine.connect() as c:
        area = c.execute(sa.text("SELECT min(id) FROM area WHERE site_id = :s"), {"s": elec}).scalar_one()
    worker = scope_for_user(users.get_by_id(dash_engine, dash_users["worker"]))
    hid = report(dash_engine, worker, site_id=elec, area_id=area, category="other", title=EVIL, severity="severe",
                 folder=dash_data_dir / "uploads")
    at = open_page(dash_users["plant.manager"], "app_pages/hazards.py")
    assert_ok(at)
    sources = rendered_sources(at)
    board = [s for s in sources if f"#{hid}" in s]
    assert board, "the new hazard is on the SLA board"
    assert any("evil" in s for s in board)
    assert_inert(sources)
    # The text itself is still all there, character for character.
    shown = _md.render(board[0]).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    assert EVIL in shown.replace("\u2060", "")


def test_emergency_review_lessons_render_as_text(dash_env, dash_users, dash_engine):
    sz = site_id(dash_engine, "SZ-ELEC")
    with dash_engine.connect() as conn:
        area = conn.execute(sa.text("SELECT min(id) FROM area WHERE site_id = :s"), {"s": sz}).scalar_one()
    at = open_page(dash_users["plant.manager"], "app_pages/emergency.py")
    at.selectbox(key="em.area").set_value(area)
    at.selectbox(key="em.kind").set_value("fire")
    at.button(key="em.declare").click()
    at.run()
    assert_ok(at)
    at.text_area(key="em.summary").input("Summary " + EVIL)
    at.text_area(key="em.lessons").input("Lesson " + EVIL)
    at.text_area(key="em.steps").input("Step " + EVIL)
    at.run()
    at.button(key="em.close").click()
    at.run()
    assert_ok(at)
    at.segmented_control(key="em.status").set_value("all")
    at.run()
    assert_ok(at)
    sources = rendered_sources(at)
    assert sum("evil" in s for s in sources) >= 2, sources  # the review summary and its lesson are shown
    assert_inert(sources)
