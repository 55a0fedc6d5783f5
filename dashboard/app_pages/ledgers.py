"""Compliance: the register of regulations and standards, and one-click ledger exports (CSV / PDF)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import core
from db.queries import ledgers as lq
from db.queries import org
from qhse.domain.ledgers import LedgerError
from qhse.services import ledgers as L
from qhse.vocab import LedgerKind

ctx = core.page_context()
f = ctx.filters

t_export, t_register = st.tabs([ctx.t("ledgers.export_a_ledger"), ctx.t("ledgers.regulation_register")])

def export_tab() -> None:
    sites = core.fetch(org.sites, ctx.scope, ttl="slow")
    if sites.empty:
        st.info(ctx.t("no_data"))
        return
    codes = sites["code"].tolist()
    preferred = sites[sites["id"].isin(f.site_ids)]["code"].tolist() if f.site_ids else []
    c1, c2, c3, c4 = st.columns(4)
    kind = c1.selectbox(ctx.t("ledgers.ledger"), list(LedgerKind), format_func=lambda k: ctx.label("ledger_kind", k),
                        key="lg.kind")
    site = c2.selectbox(ctx.t("site"), codes, index=codes.index(preferred[0]) if preferred else 0, key="lg.site")
    start = c3.date_input(ctx.t("ledgers.from"), value=f.start_month, key="lg.from")
    end = c4.date_input(ctx.t("ledgers.to_inclusive"), value=f.end_month - dt.timedelta(days=1), key="lg.to")
    try:
        led = core.fetch(L.build, kind, site, start, end, scope=ctx.scope)
    except LedgerError as exc:
        st.error(str(exc))
        return
    st.caption(ctx.t("ledgers.title_name_start_to_end_timezone", title=led.title, name=core.plain(led.site['name']),
                     start=led.start, end=led.end, timezone=led.site['timezone'],
                     kind=ctx.label("ledger_kind", kind)))
    cols = st.columns(min(4, len(led.totals)), border=True)
    for i, (k, v) in enumerate(led.totals):
        cols[i % len(cols)].metric(ctx.label("ledger_total", k, default=k.replace("_", " ")),
                                   v if v != "" else ctx.t("not_available"))
    d1, d2 = st.columns(2)
    d1.download_button(ctx.t("ledgers.download_csv"), data=L.to_csv(led), file_name=f"{led.filename}.csv",
                       mime="text/csv", key="lg.csv", icon=":material/table:", width="stretch")
    pdf = core.fetch(L.render, kind, site, start, end, "pdf", scope=ctx.scope)
    d2.download_button(ctx.t("ledgers.download_pdf"), data=pdf, file_name=f"{led.filename}.pdf",
                       mime="application/pdf", key="lg.pdf", icon=":material/picture_as_pdf:", width="stretch")
    if led.regulations:
        st.markdown("**" + ctx.t("ledgers.applicable_regulations_and_standards") + "**")
        st.markdown("\n".join(f"- {core.plain(r['code'])} {core.plain(r['title'])}"
                              + (f", {core.plain(r['clause'])}" if r.get("clause") else "")
                              for r in led.regulations))
    if led.points:
        st.markdown("**" + ctx.t("ledgers.monitoring_points") + "**")
        st.dataframe(pd.DataFrame(led.points), hide_index=True, width="stretch")
    st.markdown("**" + ctx.t("ledgers.lines_rows", rows=len(led.rows)) + "**")
    if led.rows:
        shown = pd.DataFrame(led.rows[:1000], columns=[c.key for c in led.columns])
        st.dataframe(shown, hide_index=True, width="stretch", key="lg.table",
                     column_config={c.key: c.label for c in led.columns})
        if len(led.rows) > 1000:
            st.caption(ctx.t("ledgers.the_first_1_000_lines_are"))
    else:
        st.info(ctx.t("ledgers.no_record_in_this_period"))


with t_export:
    export_tab()

with t_register:
    reg = core.fetch(lq.regulations, ctx.scope, None, None, ttl="slow")
    if reg.empty:
        st.info(ctx.t("no_data"))
    else:
        st.dataframe(reg.assign(kind=reg["kind"].map(lambda k: ctx.label("regulation_kind", k)),
                                ledger_kind=reg["ledger_kind"].map(
                                    lambda k: ctx.label("ledger_kind", k) if k in set(LedgerKind) else "")),
                     hide_index=True, width="stretch",
                     column_order=["site", "code", "title", "kind", "authority", "clause", "requirement", "ledger_kind",
                                   "effective_on", "review_due_on"],
                     column_config={"site": ctx.t("site"), "code": ctx.t("ledgers.code"),
                                    "title": ctx.t("ledgers.title"),
                                    "kind": ctx.t("kind"), "authority": ctx.t("ledgers.issued_by"),
                                    "clause": ctx.t("ledgers.clause"), "requirement": ctx.t("ledgers.requirement"),
                                    "ledger_kind": ctx.t("ledgers.evidenced_by"),
                                    "effective_on": ctx.t("ledgers.in_force_since"),
                                    "review_due_on": ctx.t("ledgers.review_due")})
