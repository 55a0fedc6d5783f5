"""Live alarms: open alarms refreshed every few seconds; acknowledge the selected ones."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import charts, core
from db.queries import alarms as aq
from qhse.domain import access
from qhse.services.alarms import AlarmError, acknowledge
from qhse.vocab import AlarmSeverity

ctx = core.page_context()
f = ctx.filters
REFRESH_S = 5
may_ack = ctx.can(access.ACK_ALARMS)

st.caption(ctx.t("alarms.open_alarms_refresh_every_refresh_s", REFRESH_S=REFRESH_S))


@st.fragment(run_every=REFRESH_S)
def live() -> None:
    flash = st.session_state.pop("alarms.flash", None)
    if flash:
        done, errors = flash
        if done:
            st.success(ctx.t("alarms.done_alarm_s_acknowledged", done=done), icon=":material/check:")
        for e in errors:
            st.error(e)
    df = core.fetch(aq.open_alarms, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids, ttl="live")
    n_crit = int((df["severity"] == "critical").sum())
    n_warn = int((df["severity"] == "warning").sum())
    n_unack = int((df["status"] == "open").sum())
    c1, c2, c3, c4 = st.columns(4, border=True)
    c1.metric(ctx.t("alarms.open_alarms"), ctx.num(len(df)))
    c2.metric(ctx.t("alarms.critical"), ctx.num(n_crit))
    c3.metric(ctx.t("alarms.warning"), ctx.num(n_warn))
    c4.metric(ctx.t("alarms.not_acknowledged"), ctx.num(n_unack))
    st.caption(ctx.t("alarms.updated") + " " + ctx.datetime(dt.datetime.now(dt.UTC)))
    if df.empty:
        st.success(ctx.t("alarms.no_open_alarm"))
        return
    view = df.assign(
        severity=df["severity"].map(lambda s: ctx.label("alarm_severity", s)),
        status=df["status"].map(lambda s: ctx.label("alarm_status", s)),
        raised_at=df["raised_at"].map(ctx.datetime), asset=df["asset"].fillna("-"),
        value=[f"{v:.2f} {u}" for v, u in zip(df["last_value"], df["unit"], strict=False)],
        peak=[f"{v:.2f} {u}" for v, u in zip(df["peak_value"], df["unit"], strict=False)])
    event = st.dataframe(
        view, hide_index=True, width="stretch", key="alarms.table",
        on_select="rerun" if may_ack else "ignore", selection_mode="multi-row",
        column_order=["id", "severity", "status", "raised_at", "site", "area", "asset", "sensor", "rule", "value",
                      "peak", "acknowledged_by"],
        column_config={"id": "#", "severity": ctx.t("severity"), "status": ctx.t("status"),
                       "raised_at": ctx.t("raised"), "site": ctx.t("site"), "area": ctx.t("area"),
                       "asset": ctx.t("asset"), "sensor": ctx.t("sensor"), "rule": ctx.t("rule"),
                       "value": ctx.t("alarms.last_value"), "peak": ctx.t("peak"),
                       "acknowledged_by": ctx.t("alarms.acknowledged_by")})
    if not may_ack:
        st.caption(ctx.t("alarms.your_role_may_view_alarms_but"))
        return
    rows = event.selection.rows if event is not None else []
    chosen = [int(df.iloc[i]["id"]) for i in rows]
    pending = [i for i in chosen if df.loc[df["id"] == i, "status"].iloc[0] == "open"]
    c1, c2 = st.columns([3, 1])
    note = c1.text_input(ctx.t("note_optional"), key="alarms.note",
                         placeholder=ctx.t("alarms.e_g_ventilation_started_area_evacuated"))
    label = ctx.t("alarms.acknowledge_pending_selected", pending=len(pending))
    if c2.button(label, type="primary", disabled=not pending, key="alarms.ack", width="stretch"):
        done, errors = 0, []
        for alarm_id in pending:
            try:
                acknowledge(core.engine(), ctx.scope, alarm_id, note=note or None)
                done += 1
            except (AlarmError, access.AccessDenied) as exc:
                errors.append(str(exc))
        core.invalidate("live", "standard")
        st.session_state["alarms.flash"] = (done, errors)
        st.session_state.pop("alarms.table", None)  # clear the row selection
        st.rerun()
    if not rows:
        st.caption(ctx.t("alarms.select_rows_in_the_table_to"))


live()


@st.fragment(run_every=REFRESH_S)
def consumers() -> None:
    """Ingestion consumers' heartbeats: alarms are raised only while a consumer stores readings."""
    from db.queries import ingest as iq
    from qhse.settings import get_settings

    stale_s = get_settings().heartbeat_stale_s
    hb = core.fetch(iq.consumer_heartbeats, ctx.scope, stale_s=stale_s, ttl="live")
    st.subheader(ctx.t("alarms.ingestion_consumers"))
    running = hb[hb["status"] == "running"] if not hb.empty else hb
    n_stale = int(hb["stale"].sum()) if not hb.empty else 0
    if running.empty:
        st.error(ctx.t("alarms.no_ingestion_consumer_is_running_readings"), icon=":material/error:")
    elif n_stale:
        st.error(ctx.t("alarms.n_stale_consumer_s_stalled_no", n_stale=n_stale, stale_s=stale_s),
                 icon=":material/error:")
    else:
        st.success(ctx.t("alarms.running_consumer_s_running_heartbeats_fresh", running=len(running)),
                   icon=":material/check:")
    if hb.empty:
        return
    view = hb.assign(
        state=[ctx.t("alarms.consumer_state." + ("stalled" if x else "ok")) if s == "running"
               else ctx.t("alarms.stopped")
               for x, s in zip(hb["stale"], hb["status"], strict=True)],
        updated_at=hb["updated_at"].map(ctx.datetime),
        last_commit_at=hb["last_commit_at"].map(lambda t: ctx.datetime(t) if pd.notna(t) else "-"),
        spool_mb=hb["spool_bytes"] / 1e6,
        connected=hb["connected"].map(lambda c: ctx.t("alarms.yes") if c else ctx.t("alarms.no")))
    st.dataframe(
        view, hide_index=True, width="stretch", key="alarms.consumers",
        column_order=["client_id", "state", "host", "updated_at", "last_commit_at", "lag_s", "backlog", "spool_mb",
                      "dead_letters_per_s", "connected"],
        column_config={
            "client_id": ctx.t("alarms.client_id"), "state": ctx.t("status"), "host": ctx.t("alarms.host"),
            "updated_at": ctx.t("alarms.last_heartbeat"), "last_commit_at": ctx.t("alarms.last_commit"),
            "lag_s": st.column_config.NumberColumn(ctx.t("alarms.lag_s"), format="%.1f"),
            "backlog": st.column_config.NumberColumn(ctx.t("alarms.backlog"), format="%d"),
            "spool_mb": st.column_config.NumberColumn(ctx.t("alarms.spool_mb"), format="%.1f"),
            "dead_letters_per_s": st.column_config.NumberColumn(ctx.t("alarms.dead_letters_s"), format="%.2f"),
            "connected": ctx.t("alarms.broker_connected")})


consumers()

st.divider()
st.subheader(ctx.t("alarms.alarms_raised_in_the_period"))
st.caption(ctx.period_caption())
by_day = core.fetch(aq.alarm_counts_by_day, ctx.scope, start=f.start, end=f.end, tz=str(core.report_tz()),
                    site_ids=f.site_ids, area_ids=f.area_ids)
if by_day.empty:
    st.info(ctx.t("no_data"))
else:
    by_day = by_day.assign(severity=by_day["severity"].map(lambda s: ctx.label("alarm_severity", s)))
    cmap = {ctx.label("alarm_severity", k): charts.SEVERITY_COLORS[k] for k in AlarmSeverity}
    fig = charts.bars(by_day, "day", "n", ctx.t("alarms.alarms_per_day"), color="severity", color_map=cmap)
    fig.update_xaxes(tickformat="%Y-%m-%d")
    st.plotly_chart(fig, key="alarms.by_day")
    recent = core.fetch(aq.recent_alarms, ctx.scope, start=f.start, end=f.end, site_ids=f.site_ids,
                        area_ids=f.area_ids, limit=200)
    st.dataframe(recent.assign(raised_at=recent["raised_at"].map(ctx.datetime),
                               severity=recent["severity"].map(lambda s: ctx.label("alarm_severity", s)),
                               status=recent["status"].map(lambda s: ctx.label("alarm_status", s))),
                 hide_index=True, width="stretch",
                 column_config={"id": "#", "raised_at": ctx.t("raised"), "severity": ctx.t("severity"),
                                "status": ctx.t("status"), "site": ctx.t("site"), "area": ctx.t("area"),
                                "rule": ctx.t("rule"), "peak_value": ctx.t("peak"),
                                "acknowledged_by": ctx.t("alarms.acknowledged_by"),
                                "minutes_to_ack": st.column_config.NumberColumn(ctx.t("alarms.min_to_acknowledge"),
                                                                                format="%.0f"),
                                "minutes_to_clear": st.column_config.NumberColumn(ctx.t("alarms.min_to_clear"),
                                                                                  format="%.0f")})
