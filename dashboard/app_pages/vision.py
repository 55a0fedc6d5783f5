"""PPE review: one event at a time with its snapshot; confirm / false positive / dismiss by keyboard."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import charts, core
from db.queries import vision as vq
from qhse.domain import access
from qhse.services.vision_review import ReviewError, review

ctx = core.page_context()
f = ctx.filters
may_review = access.can(ctx.scope, access.REVIEW_VISION)
LABEL = {"no_helmet": ("No hard hat", "未戴安全帽"), "no_vest": ("No hi-vis vest", "未穿反光背心"),
         "head": ("No hard hat", "未戴安全帽")}
STATUS = {"new": ("awaiting review", "待审核"), "confirmed": ("confirmed", "已确认"), "dismissed": ("dismissed", "已忽略"),
          "false_positive": ("false positive", "误报")}

st.title(ctx.tr("PPE review", "PPE 违规审核"))

queue = core.fetch(vq.review_queue, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids, limit=200, ttl="live")
total = core.fetch(vq.queue_size, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids, ttl="live")
skipped: list[int] = st.session_state.setdefault("vr.skipped", [])
pending = queue[~queue["id"].isin(skipped)] if len(queue) else queue
if pending.empty and len(queue):  # every event skipped once: start over
    skipped.clear()
    pending = queue

c1, c2 = st.columns([1, 3])
c1.metric(ctx.tr("Awaiting review", "待审核"), ctx.num(total))
if may_review:
    c2.caption(ctx.tr("Keys: 1 confirm · 2 false positive · 3 dismiss · → skip. The oldest event comes first.",
                      "快捷键：1 确认 · 2 误报 · 3 忽略 · → 跳过。最早的事件排在最前。"))
else:
    c2.caption(ctx.tr("Your role may view the queue but not review events.", "您的角色可查看队列，但不能审核。"))


def decide(event_id: int, decision: str) -> None:
    note = st.session_state.get("vr.note") or None
    try:
        review(core.engine(), ctx.scope, event_id, decision, note=note)
    except (ReviewError, access.AccessDenied) as exc:
        st.session_state["vr.flash"] = ("error", str(exc))
    else:
        st.session_state["vr.flash"] = ("ok", ctx.tr(f"Event #{event_id}: {STATUS[decision][0]}.",
                                                    f"事件 #{event_id}：{STATUS[decision][1]}。"))
    st.session_state["vr.note"] = ""
    core.invalidate("live", "standard")


def skip(event_id: int) -> None:
    st.session_state["vr.skipped"].append(event_id)


flash = st.session_state.pop("vr.flash", None)
if flash:
    (st.success if flash[0] == "ok" else st.error)(flash[1])

if pending.empty:
    st.success(ctx.tr("The review queue is empty.", "审核队列已清空。"), icon=":material/task_alt:")
else:
    ev = pending.iloc[0]
    eid = int(ev["id"])
    with st.container(border=True):
        left, right = st.columns([3, 2])
        with left:
            snap = ev["snapshot_path"]
            if isinstance(snap, str) and Path(snap).is_file():
                st.image(snap, width="stretch", caption=ctx.tr(f"Snapshot of event #{eid}", f"事件 #{eid} 快照"))
            else:
                st.warning(ctx.tr("No snapshot stored for this event.", "该事件没有保存快照。"))
        with right:
            st.subheader(f"#{eid} · {ctx.tr(*LABEL.get(ev['label'], (ev['label'], ev['label'])))}")
            st.markdown(f"**{ctx.tr('Camera', '摄像头')}:** {core.plain(ev['camera'])}  \n"
                        f"**{ctx.tr('Zone', '区域')}:** {core.plain(ev['zone'] or '-')}  \n"
                        f"**{ctx.t('site')} / {ctx.t('area')}:** {core.plain(ev['site'])} / {core.plain(ev['area'] or '-')}  \n"
                        f"**{ctx.t('time')}:** {ctx.datetime(ev['started_at'])}  \n"
                        f"**{ctx.tr('Score', '置信度')}:** {ev['score']:.2f} (max {ev['max_score']:.2f})  \n"
                        f"**{ctx.tr('Required PPE', '要求的防护用品')}:** "
                        f"{', '.join(ev['required_ppe']) if isinstance(ev['required_ppe'], list) else '-'}")
            if may_review:
                st.text_input(ctx.tr("Note (optional)", "备注（可选）"), key="vr.note")
                b1, b2 = st.columns(2)
                b1.button(ctx.tr("Confirm", "确认违规"), type="primary", shortcut="1", key="vr.confirm",
                          on_click=decide, args=(eid, "confirmed"), icon=":material/check:", width="stretch")
                b2.button(ctx.tr("False positive", "误报"), shortcut="2", key="vr.fp",
                          on_click=decide, args=(eid, "false_positive"), icon=":material/block:", width="stretch")
                b3, b4 = st.columns(2)
                b3.button(ctx.tr("Dismiss", "忽略"), shortcut="3", key="vr.dismiss",
                          on_click=decide, args=(eid, "dismissed"), icon=":material/close:", width="stretch")
                b4.button(ctx.tr("Skip", "跳过"), shortcut="Right", key="vr.skip", on_click=skip, args=(eid,),
                          icon=":material/skip_next:", width="stretch")
    if len(pending) > 1:
        with st.expander(ctx.tr(f"Next in the queue ({len(pending) - 1})", f"队列中的后续事件（{len(pending) - 1}）")):
            nxt = pending.iloc[1:51]
            st.dataframe(nxt.assign(started_at=nxt["started_at"].map(ctx.datetime),
                                    label=nxt["label"].map(lambda x: ctx.tr(*LABEL.get(x, (x, x))))),
                         hide_index=True, width="stretch",
                         column_order=["id", "started_at", "label", "score", "site", "area", "camera", "zone"],
                         column_config={"id": "#", "started_at": ctx.t("time"), "label": ctx.tr("Violation", "违规"),
                                        "score": st.column_config.NumberColumn(ctx.tr("Score", "置信度"), format="%.2f"),
                                        "site": ctx.t("site"), "area": ctx.t("area"),
                                        "camera": ctx.tr("Camera", "摄像头"), "zone": ctx.tr("Zone", "区域")})

st.divider()
st.subheader(ctx.tr("Repeat violations by zone and hour", "按区域和时段的重复违规"))
st.caption(ctx.period_caption() + " · " + ctx.tr("confirmed events", "已确认事件"))
zh = core.fetch(vq.violations_by_zone_hour, ctx.scope, start=f.start, end=f.end, tz=str(core.report_tz()),
                site_ids=f.site_ids, area_ids=f.area_ids)
if zh.empty:
    st.info(ctx.t("no_data"))
else:
    grid = zh.groupby(["zone", "hour"], as_index=False)["n"].sum()
    pivot = grid.pivot(index="zone", columns="hour", values="n").reindex(columns=range(24)).fillna(0)
    order = pivot.sum(axis=1).sort_values(ascending=False).index
    pivot = pivot.loc[order]
    fig = charts.heatmap(pivot.values, [f"{h:02d}" for h in pivot.columns], list(pivot.index),
                         ctx.tr("Confirmed violations by hour of day", "各时段已确认违规数"), ctx.t("count"),
                         text=[[str(int(v)) if v else "" for v in row] for row in pivot.values],
                         height=140 + 40 * len(pivot),
                         hover=ctx.tr("%{y}, %{x}:00 - %{z:.0f}", "%{y}，%{x}:00 - %{z:.0f}") + "<extra></extra>")
    st.plotly_chart(fig, key="vr.heat")
    by_zone = zh.assign(label=zh["label"].map(lambda x: ctx.tr(*LABEL.get(x, (x, x))))) \
        .groupby(["zone", "label"], as_index=False)["n"].sum()
    by_zone["total"] = by_zone.groupby("zone")["n"].transform("sum")
    by_zone = by_zone.sort_values(["total", "zone"], ascending=[False, True])
    st.plotly_chart(charts.bars(by_zone, "zone", "n", ctx.tr("Repeat violations by zone", "各区域重复违规"),
                                color="label", horizontal=True, height=140 + 36 * by_zone["zone"].nunique()),
                    key="vr.zones")
outcomes = core.fetch(vq.review_outcomes, ctx.scope, start=f.start, end=f.end, site_ids=f.site_ids,
                      area_ids=f.area_ids)
if not outcomes.empty:
    tot = outcomes.groupby("review_status")["n"].sum()
    reviewed = tot.drop(labels=["new"], errors="ignore").sum()
    fp = tot.get("false_positive", 0)
    st.caption(ctx.tr(f"Reviewed in the period: {ctx.num(reviewed)}; false positives: {ctx.pct(fp / reviewed if reviewed else None)}.",
                      f"本期已审核：{ctx.num(reviewed)}；误报率：{ctx.pct(fp / reviewed if reviewed else None)}。"))
