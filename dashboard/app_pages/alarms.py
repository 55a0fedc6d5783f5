"""Live alarms: open alarms refreshed every few seconds; acknowledge the selected ones."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import charts, core
from db.queries import alarms as aq
from qhse.domain import access
from qhse.services.alarms import AlarmError, acknowledge

ctx = core.page_context()
f = ctx.filters
REFRESH_S = 5
may_ack = access.can(ctx.scope, access.ACK_ALARMS)
SEV = {"critical": ("Critical", "严重"), "warning": ("Warning", "警告"), "info": ("Info", "提示")}
STATUS = {"open": ("open", "未确认"), "acknowledged": ("acknowledged", "已确认"), "cleared": ("cleared", "已解除")}

st.title(ctx.tr("Live alarms", "实时报警"))
st.caption(ctx.tr(f"Open alarms refresh every {REFRESH_S} s.", f"未关闭报警每 {REFRESH_S} 秒刷新。"))


@st.fragment(run_every=REFRESH_S)
def live() -> None:
    flash = st.session_state.pop("alarms.flash", None)
    if flash:
        done, errors = flash
        if done:
            st.success(ctx.tr(f"{done} alarm(s) acknowledged.", f"已确认 {done} 条报警。"), icon=":material/check:")
        for e in errors:
            st.error(e)
    df = core.fetch(aq.open_alarms, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids, ttl="live")
    n_crit = int((df["severity"] == "critical").sum())
    n_warn = int((df["severity"] == "warning").sum())
    n_unack = int((df["status"] == "open").sum())
    c1, c2, c3, c4 = st.columns(4, border=True)
    c1.metric(ctx.tr("Open alarms", "未关闭报警"), ctx.num(len(df)))
    c2.metric(ctx.tr("Critical", "严重"), ctx.num(n_crit))
    c3.metric(ctx.tr("Warning", "警告"), ctx.num(n_warn))
    c4.metric(ctx.tr("Not acknowledged", "未确认"), ctx.num(n_unack))
    st.caption(ctx.tr("Updated", "更新于") + " " + ctx.datetime(dt.datetime.now(dt.UTC)))
    if df.empty:
        st.success(ctx.tr("No open alarm.", "当前没有未关闭的报警。"))
        return
    view = df.assign(
        severity=df["severity"].map(lambda s: ctx.tr(*SEV.get(s, (s, s)))),
        status=df["status"].map(lambda s: ctx.tr(*STATUS.get(s, (s, s)))),
        raised_at=df["raised_at"].map(ctx.datetime), asset=df["asset"].fillna("-"),
        value=[f"{v:.2f} {u}" for v, u in zip(df["last_value"], df["unit"])],
        peak=[f"{v:.2f} {u}" for v, u in zip(df["peak_value"], df["unit"])])
    event = st.dataframe(
        view, hide_index=True, width="stretch", key="alarms.table",
        on_select="rerun" if may_ack else "ignore", selection_mode="multi-row",
        column_order=["id", "severity", "status", "raised_at", "site", "area", "asset", "sensor", "rule", "value",
                      "peak", "acknowledged_by"],
        column_config={"id": "#", "severity": ctx.t("severity"), "status": ctx.t("status"),
                       "raised_at": ctx.tr("Raised", "触发时间"), "site": ctx.t("site"), "area": ctx.t("area"),
                       "asset": ctx.t("asset"), "sensor": ctx.t("sensor"), "rule": ctx.tr("Rule", "规则"),
                       "value": ctx.tr("Last value", "最新值"), "peak": ctx.tr("Peak", "峰值"),
                       "acknowledged_by": ctx.tr("Acknowledged by", "确认人")})
    if not may_ack:
        st.caption(ctx.tr("Your role may view alarms but not acknowledge them.", "您的角色可查看报警，但不能确认。"))
        return
    rows = event.selection.rows if event is not None else []
    chosen = [int(df.iloc[i]["id"]) for i in rows]
    pending = [i for i in chosen if df.loc[df["id"] == i, "status"].iloc[0] == "open"]
    c1, c2 = st.columns([3, 1])
    note = c1.text_input(ctx.tr("Note (optional)", "备注（可选）"), key="alarms.note",
                         placeholder=ctx.tr("e.g. ventilation started, area evacuated", "例如：已开启通风，已疏散"))
    label = ctx.tr(f"Acknowledge {len(pending)} selected", f"确认所选 {len(pending)} 条")
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
        st.caption(ctx.tr("Select rows in the table to acknowledge them.", "在表格中选择报警后确认。"))


live()


@st.fragment(run_every=REFRESH_S)
def consumers() -> None:
    """Ingestion consumers' heartbeats: alarms are raised only while a consumer stores readings."""
    from db.queries import ingest as iq
    from qhse.settings import get_settings

    stale_s = get_settings().heartbeat_stale_s
    hb = core.fetch(iq.consumer_heartbeats, ctx.scope, stale_s=stale_s, ttl="live")
    st.subheader(ctx.tr("Ingestion consumers", "数据接入进程"))
    running = hb[hb["status"] == "running"] if not hb.empty else hb
    n_stale = int(hb["stale"].sum()) if not hb.empty else 0
    if running.empty:
        st.error(ctx.tr("No ingestion consumer is running: readings are not stored and no alarm can be raised.",
                        "没有正在运行的数据接入进程：读数未入库，报警无法触发。"), icon=":material/error:")
    elif n_stale:
        st.error(ctx.tr(f"{n_stale} consumer(s) stalled: no heartbeat for more than {stale_s:g} s. The on-call "
                        "role has been notified.",
                        f"{n_stale} 个接入进程停滞：超过 {stale_s:g} 秒无心跳，已通知值班人员。"),
                 icon=":material/error:")
    else:
        st.success(ctx.tr(f"{len(running)} consumer(s) running, heartbeats fresh.",
                          f"{len(running)} 个接入进程运行中，心跳正常。"), icon=":material/check:")
    if hb.empty:
        return
    state = {True: ("stalled", "停滞"), False: ("ok", "正常")}
    view = hb.assign(
        state=[ctx.tr(*state[bool(x)]) if s == "running" else ctx.tr("stopped", "已停止")
               for x, s in zip(hb["stale"], hb["status"], strict=True)],
        updated_at=hb["updated_at"].map(ctx.datetime),
        last_commit_at=hb["last_commit_at"].map(lambda t: ctx.datetime(t) if pd.notna(t) else "-"),
        spool_mb=hb["spool_bytes"] / 1e6,
        connected=hb["connected"].map(lambda c: ctx.tr("yes", "是") if c else ctx.tr("no", "否")))
    st.dataframe(
        view, hide_index=True, width="stretch", key="alarms.consumers",
        column_order=["client_id", "state", "host", "updated_at", "last_commit_at", "lag_s", "backlog", "spool_mb",
                      "dead_letters_per_s", "connected"],
        column_config={
            "client_id": ctx.tr("Client id", "客户端 ID"), "state": ctx.t("status"), "host": ctx.tr("Host", "主机"),
            "updated_at": ctx.tr("Last heartbeat", "最近心跳"), "last_commit_at": ctx.tr("Last commit", "最近入库"),
            "lag_s": st.column_config.NumberColumn(ctx.tr("Lag (s)", "延迟(秒)"), format="%.1f"),
            "backlog": st.column_config.NumberColumn(ctx.tr("Backlog", "积压"), format="%d"),
            "spool_mb": st.column_config.NumberColumn(ctx.tr("Spool (MB)", "缓存(MB)"), format="%.1f"),
            "dead_letters_per_s": st.column_config.NumberColumn(ctx.tr("Dead letters/s", "死信/秒"), format="%.2f"),
            "connected": ctx.tr("Broker connected", "已连接代理")})


consumers()

st.divider()
st.subheader(ctx.tr("Alarms raised in the period", "本期触发的报警"))
st.caption(ctx.period_caption())
by_day = core.fetch(aq.alarm_counts_by_day, ctx.scope, start=f.start, end=f.end, tz=str(core.report_tz()),
                    site_ids=f.site_ids, area_ids=f.area_ids)
if by_day.empty:
    st.info(ctx.t("no_data"))
else:
    by_day = by_day.assign(severity=by_day["severity"].map(lambda s: ctx.tr(*SEV.get(s, (s, s)))))
    cmap = {ctx.tr(*SEV[k]): charts.SEVERITY_COLORS[k] for k in SEV}
    fig = charts.bars(by_day, "day", "n", ctx.tr("Alarms per day", "每日报警数"), color="severity", color_map=cmap)
    fig.update_xaxes(tickformat="%Y-%m-%d")
    st.plotly_chart(fig, key="alarms.by_day")
    recent = core.fetch(aq.recent_alarms, ctx.scope, start=f.start, end=f.end, site_ids=f.site_ids,
                        area_ids=f.area_ids, limit=200)
    st.dataframe(recent.assign(raised_at=recent["raised_at"].map(ctx.datetime),
                               severity=recent["severity"].map(lambda s: ctx.tr(*SEV.get(s, (s, s)))),
                               status=recent["status"].map(lambda s: ctx.tr(*STATUS.get(s, (s, s))))),
                 hide_index=True, width="stretch",
                 column_config={"id": "#", "raised_at": ctx.tr("Raised", "触发时间"), "severity": ctx.t("severity"),
                                "status": ctx.t("status"), "site": ctx.t("site"), "area": ctx.t("area"),
                                "rule": ctx.tr("Rule", "规则"), "peak_value": ctx.tr("Peak", "峰值"),
                                "acknowledged_by": ctx.tr("Acknowledged by", "确认人"),
                                "minutes_to_ack": st.column_config.NumberColumn(ctx.tr("Min to acknowledge", "确认用时(分)"),
                                                                                format="%.0f"),
                                "minutes_to_clear": st.column_config.NumberColumn(ctx.tr("Min to clear", "解除用时(分)"),
                                                                                  format="%.0f")})
