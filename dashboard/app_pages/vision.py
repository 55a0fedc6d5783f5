"""PPE review: one event at a time with its snapshot; confirm / false positive / dismiss by keyboard."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import charts, core
from db.queries import vision as vq
from qhse.domain import access
from qhse.domain.vision_review import ReviewError
from qhse.services.vision_review import review
from vision.clips import clip_path_for

ctx = core.page_context()
f = ctx.filters
may_review = ctx.can(access.REVIEW_VISION)


queue = core.fetch(vq.review_queue, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids, limit=200, ttl="live")
total = core.fetch(vq.queue_size, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids, ttl="live")
skipped: list[int] = st.session_state.setdefault("vr.skipped", [])
pending = queue[~queue["id"].isin(skipped)] if len(queue) else queue
if pending.empty and len(queue):  # every event skipped once: start over
    skipped.clear()
    pending = queue

c1, c2 = st.columns([1, 3])
c1.metric(ctx.t("vision.awaiting_review"), ctx.num(total))
if may_review:
    c2.caption(ctx.t("vision.keys_1_confirm_2_false_positive"))
else:
    c2.caption(ctx.t("vision.your_role_may_view_the_queue"))


def decide(event_id: int, decision: str) -> None:
    note = st.session_state.get("vr.note") or None
    try:
        review(core.engine(), ctx.scope, event_id, decision, note=note)
    except (ReviewError, access.AccessDenied) as exc:
        st.session_state["vr.flash"] = ("error", str(exc))
    else:
        st.session_state["vr.flash"] = ("ok",
                                        ctx.t("vision.event_event_id_status", event_id=event_id,
                                              status=ctx.label("vision.status", decision)))
    st.session_state["vr.note"] = ""
    core.invalidate("live", "standard")


def skip(event_id: int) -> None:
    st.session_state["vr.skipped"].append(event_id)


flash = st.session_state.pop("vr.flash", None)
if flash:
    (st.success if flash[0] == "ok" else st.error)(flash[1])

if pending.empty:
    st.success(ctx.t("vision.the_review_queue_is_empty"), icon=":material/task_alt:")
else:
    ev = pending.iloc[0]
    eid = int(ev["id"])
    with st.container(border=True):
        left, right = st.columns([3, 2])
        with left:
            snap = ev["snapshot_path"]
            if isinstance(snap, str) and Path(snap).is_file():
                st.image(snap, width="stretch", caption=ctx.t("vision.snapshot_of_event_eid", eid=eid))
                clip = clip_path_for(snap)
                if clip.is_file():
                    st.video(str(clip), format="video/mp4")
                    st.caption(ctx.t("vision.clip_of_event"))
            else:
                st.warning(ctx.t("vision.no_snapshot_stored_for_this_event"))
        with right:
            st.subheader(f"#{eid} · {ctx.label('vision.label', ev['label'])}")
            st.markdown(f"**{ctx.t('vision.camera')}:** {core.plain(ev['camera'])}  \n"
                        f"**{ctx.t('vision.zone')}:** {core.plain(ev['zone'] or '-')}  \n"
                        f"**{ctx.t('site')} / {ctx.t('area')}:** "
                        f"{core.plain(ev['site'])} / {core.plain(ev['area'] or '-')}  \n"
                        f"**{ctx.t('time')}:** {ctx.datetime(ev['started_at'])}  \n"
                        f"**{ctx.t('score')}:** {ev['score']:.2f} (max {ev['max_score']:.2f})  \n"
                        f"**{ctx.t('vision.required_ppe')}:** "
                        f"{', '.join(ev['required_ppe']) if isinstance(ev['required_ppe'], list) else '-'}")
            if may_review:
                st.text_input(ctx.t("note_optional"), key="vr.note")
                b1, b2 = st.columns(2)
                b1.button(ctx.t("vision.confirm"), type="primary", shortcut="1", key="vr.confirm",
                          on_click=decide, args=(eid, "confirmed"), icon=":material/check:", width="stretch")
                b2.button(ctx.t("vision.false_positive"), shortcut="2", key="vr.fp",
                          on_click=decide, args=(eid, "false_positive"), icon=":material/block:", width="stretch")
                b3, b4 = st.columns(2)
                b3.button(ctx.t("vision.dismiss"), shortcut="3", key="vr.dismiss",
                          on_click=decide, args=(eid, "dismissed"), icon=":material/close:", width="stretch")
                b4.button(ctx.t("vision.skip"), shortcut="Right", key="vr.skip", on_click=skip, args=(eid,),
                          icon=":material/skip_next:", width="stretch")
    if len(pending) > 1:
        with st.expander(ctx.t("vision.next_in_the_queue_pending", pending=len(pending) - 1)):
            nxt = pending.iloc[1:51]
            st.dataframe(nxt.assign(started_at=nxt["started_at"].map(ctx.datetime),
                                    label=nxt["label"].map(lambda x: ctx.label("vision.label", x))),
                         hide_index=True, width="stretch",
                         column_order=["id", "started_at", "label", "score", "site", "area", "camera", "zone"],
                         column_config={"id": "#", "started_at": ctx.t("time"), "label": ctx.t("violation"),
                                        "score": st.column_config.NumberColumn(ctx.t("score"), format="%.2f"),
                                        "site": ctx.t("site"), "area": ctx.t("area"),
                                        "camera": ctx.t("vision.camera"), "zone": ctx.t("vision.zone")})

st.divider()
st.subheader(ctx.t("vision.repeat_violations_by_zone_and_hour"))
st.caption(ctx.period_caption() + " · " + ctx.t("vision.confirmed_events"))
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
                         ctx.t("vision.confirmed_violations_by_hour_of_day"), ctx.t("count"),
                         text=[[str(int(v)) if v else "" for v in row] for row in pivot.values],
                         height=140 + 40 * len(pivot),
                         hover=ctx.t("vision.heatmap_hover") + "<extra></extra>")
    st.plotly_chart(fig, key="vr.heat")
    by_zone = zh.assign(label=zh["label"].map(lambda x: ctx.label("vision.label", x))) \
        .groupby(["zone", "label"], as_index=False)["n"].sum()
    by_zone["total"] = by_zone.groupby("zone")["n"].transform("sum")
    by_zone = by_zone.sort_values(["total", "zone"], ascending=[False, True])
    st.plotly_chart(charts.bars(by_zone, "zone", "n", ctx.t("vision.repeat_violations_by_zone"),
                                color="label", horizontal=True, height=140 + 36 * by_zone["zone"].nunique()),
                    key="vr.zones")
outcomes = core.fetch(vq.review_outcomes, ctx.scope, start=f.start, end=f.end, site_ids=f.site_ids,
                      area_ids=f.area_ids)
if not outcomes.empty:
    tot = outcomes.groupby("review_status")["n"].sum()
    reviewed = tot.drop(labels=["new"], errors="ignore").sum()
    fp = tot.get("false_positive", 0)
    st.caption(ctx.t("vision.reviewed_in_the_period_reviewed_false", reviewed=ctx.num(reviewed),
                     pct=ctx.pct(fp / reviewed if reviewed else None)))
