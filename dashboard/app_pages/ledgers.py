"""Compliance: the register of regulations and standards, and one-click ledger exports (CSV / PDF)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import core
from db.queries import ledgers as lq
from db.queries import org
from qhse.services import ledgers as L

ctx = core.page_context()
f = ctx.filters
KIND = {"waste_gas": ("Waste-gas monitoring", "废气监测台账"), "training": ("Training records", "培训记录台账"),
        "inspection": ("Safety inspections", "安全检查台账")}
REG_KIND = {"law": ("Law", "法律"), "regulation": ("Regulation", "法规"), "national_standard": ("National standard", "国家标准"),
            "local_standard": ("Local standard", "地方标准"), "internal_standard": ("Internal standard", "内部标准")}

st.title(ctx.tr("Compliance ledgers", "合规台账"))
t_export, t_register = st.tabs([ctx.tr("Export a ledger", "导出台账"), ctx.tr("Regulation register", "法规标准清单")])

def export_tab() -> None:
    sites = core.fetch(org.sites, ctx.scope, ttl="slow")
    if sites.empty:
        st.info(ctx.t("no_data"))
        return
    codes = sites["code"].tolist()
    preferred = sites[sites["id"].isin(f.site_ids)]["code"].tolist() if f.site_ids else []
    c1, c2, c3, c4 = st.columns(4)
    kind = c1.selectbox(ctx.tr("Ledger", "台账"), list(KIND), format_func=lambda k: ctx.tr(*KIND[k]), key="lg.kind")
    site = c2.selectbox(ctx.t("site"), codes, index=codes.index(preferred[0]) if preferred else 0, key="lg.site")
    start = c3.date_input(ctx.tr("From", "起始日期"), value=f.start_month, key="lg.from")
    end = c4.date_input(ctx.tr("To (inclusive)", "截止日期（含）"), value=f.end_month - dt.timedelta(days=1), key="lg.to")
    try:
        led = core.fetch(L.build, kind, site, start, end, scope=ctx.scope)
    except L.LedgerError as exc:
        st.error(str(exc))
        return
    st.caption(ctx.tr(f"{led.title}, {core.plain(led.site['name'])}, {led.start} to {led.end} ({led.site['timezone']}). "
                      "Every line names its source record.",
                      f"{ctx.tr(*KIND[kind])}，{core.plain(led.site['name'])}，{led.start} 至 {led.end}（{led.site['timezone']}）。"
                      "每一行均注明来源记录编号。"))
    cols = st.columns(min(4, len(led.totals)), border=True)
    for i, (k, v) in enumerate(led.totals):
        cols[i % len(cols)].metric(k.replace("_", " "), v if v != "" else ctx.t("not_available"))
    d1, d2 = st.columns(2)
    d1.download_button(ctx.tr("Download CSV", "下载 CSV"), data=L.to_csv(led), file_name=f"{led.filename}.csv",
                       mime="text/csv", key="lg.csv", icon=":material/table:", width="stretch")
    pdf = core.fetch(L.render, kind, site, start, end, "pdf", scope=ctx.scope)
    d2.download_button(ctx.tr("Download PDF", "下载 PDF"), data=pdf, file_name=f"{led.filename}.pdf",
                       mime="application/pdf", key="lg.pdf", icon=":material/picture_as_pdf:", width="stretch")
    if led.regulations:
        st.markdown("**" + ctx.tr("Applicable regulations and standards", "适用法规与标准") + "**")
        st.markdown("\n".join(f"- {core.plain(r['code'])} {core.plain(r['title'])}" + (f", {core.plain(r['clause'])}" if r.get("clause") else "")
                              for r in led.regulations))
    if led.points:
        st.markdown("**" + ctx.tr("Monitoring points", "监测点") + "**")
        st.dataframe(pd.DataFrame(led.points), hide_index=True, width="stretch")
    st.markdown("**" + ctx.tr(f"Lines ({len(led.rows)})", f"明细（{len(led.rows)} 行）") + "**")
    if led.rows:
        shown = pd.DataFrame(led.rows[:1000], columns=[c.key for c in led.columns])
        st.dataframe(shown, hide_index=True, width="stretch", key="lg.table",
                     column_config={c.key: c.label for c in led.columns})
        if len(led.rows) > 1000:
            st.caption(ctx.tr("The first 1,000 lines are shown; the downloads hold them all.",
                              "仅显示前 1000 行，下载文件包含全部内容。"))
    else:
        st.info(ctx.tr("No record in this period.", "该期间没有记录。"))


with t_export:
    export_tab()

with t_register:
    reg = core.fetch(lq.regulations, ctx.scope, None, None, ttl="slow")
    if reg.empty:
        st.info(ctx.t("no_data"))
    else:
        st.dataframe(reg.assign(kind=reg["kind"].map(lambda k: ctx.tr(*REG_KIND.get(k, (k, k)))),
                                ledger_kind=reg["ledger_kind"].map(lambda k: ctx.tr(*KIND[k]) if k in KIND else "")),
                     hide_index=True, width="stretch",
                     column_order=["site", "code", "title", "kind", "authority", "clause", "requirement", "ledger_kind",
                                   "effective_on", "review_due_on"],
                     column_config={"site": ctx.t("site"), "code": ctx.tr("Code", "编号"), "title": ctx.tr("Title", "名称"),
                                    "kind": ctx.tr("Kind", "类别"), "authority": ctx.tr("Issued by", "发布机构"),
                                    "clause": ctx.tr("Clause", "条款"), "requirement": ctx.tr("Requirement", "要求"),
                                    "ledger_kind": ctx.tr("Evidenced by", "对应台账"),
                                    "effective_on": ctx.tr("In force since", "实施日期"),
                                    "review_due_on": ctx.tr("Review due", "复核日期")})
