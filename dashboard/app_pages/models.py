"""Models: versions of the failure model side by side, the champion; retrain, promote and score."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import core
from db.engine import describe_url
from ml.monitoring import PSI_FLAG
from ml.promotion import promote
from ml.registry_view import models_overview, monitoring_overview, retrain, score_now
from ml.tracking import RegistryError
from qhse.domain import access

ctx = core.page_context()
manage = ctx.can(access.MANAGE_MODELS)


try:
    data = core.fetch(models_overview, ctx.scope, ttl="standard")
except Exception as exc:  # noqa: BLE001 - the registry may be unreachable; say so instead of failing
    st.error(ctx.t("models.the_model_registry_cannot_be_read", exc=exc))
    st.stop()

df: pd.DataFrame = data["versions"]
if df.empty:
    st.info(ctx.t("models.no_model_version_yet_train_the"))
else:
    champ = df[df["champion"]]
    c1, c2, c3, c4 = st.columns(4, border=True)
    c1.metric(ctx.t("models.champion_2"), f"v{data['champion']}" if data["champion"] else "-")
    if not champ.empty:
        r = champ.iloc[0]
        c2.metric(ctx.t("models.holdout_pr_auc"), ctx.num(r.get("holdout_pr_auc"), 3))
        c3.metric(ctx.t("models.holdout_f1"), ctx.num(r.get("holdout_f1"), 3))
        c4.metric(ctx.t("models.alert_threshold"), ctx.num(r.get("threshold"), 3))
    st.subheader(ctx.t("models.versions_side_by_side"))
    metric_cols = [c for c in ("holdout_pr_auc", "holdout_roc_auc", "holdout_f1", "holdout_precision",
                               "holdout_recall", "val_pr_auc", "threshold") if c in df]
    extra = [c for c in ("horizon_days", "n_trees", "rows_train", "rows_holdout", "n_features") if c in df]

    def cell(v):
        if v is None or (isinstance(v, float) and v != v):
            return "-"
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    names = {"holdout_pr_auc": ctx.t("models.pr_auc_holdout"),
             "holdout_roc_auc": ctx.t("models.roc_auc_holdout"),
             "holdout_f1": ctx.t("models.f1_at_threshold_holdout"),
             "holdout_precision": ctx.t("models.precision_holdout"),
             "holdout_recall": ctx.t("models.recall_holdout"),
             "val_pr_auc": ctx.t("models.pr_auc_validation"), "threshold": ctx.t("models.alert_threshold_2"),
             "horizon_days": ctx.t("models.horizon_days_2"), "n_trees": ctx.t("models.trees"),
             "rows_train": ctx.t("models.training_rows"), "rows_holdout": ctx.t("models.holdout_rows"),
             "n_features": ctx.t("models.features")}
    rows_ = metric_cols + extra
    side = pd.DataFrame({f"v{r['version']}" + (" ★" if r["version"] == data["champion"] else ""):
                         [cell(r.get(c)) for c in rows_] for _, r in df.iterrows()},
                        index=[names.get(c, c) for c in rows_])
    st.dataframe(side, width="stretch", height=38 + 35 * len(rows_))
    st.dataframe(df.assign(created=df["created"].map(ctx.datetime)), hide_index=True, width="stretch",
                 column_order=[c for c in ("version", "champion", "created", "run_name", "decision", "promoted_by",
                                           "promotion_reason") if c in df],
                 column_config={"version": ctx.t("models.version"), "champion": ctx.t("models.champion"),
                                "created": ctx.t("models.registered"), "run_name": ctx.t("models.run"),
                                "decision": ctx.t("models.automatic_decision"),
                                "promoted_by": ctx.t("models.promoted_by"),
                                "promotion_reason": ctx.t("models.reason")})
    uri = data["tracking_uri"]
    where = describe_url(uri) if uri.startswith("postgresql") else uri
    st.caption(ctx.t("models.mlflow_tracking_where_mlflow_ui_backend", where=where))
    st.subheader(ctx.t("models.monitoring"))
    mon = core.fetch(monitoring_overview, ctx.scope, ttl="standard")
    if mon.empty:
        st.info(ctx.t("models.monitoring_none"))
    else:
        st.caption(ctx.t("models.monitoring_caption", psi=PSI_FLAG, at=ctx.datetime(mon["checked_at"].iloc[0])))
        st.dataframe(mon, hide_index=True, width="stretch", key="models.monitor",
                     column_order=["kind", "model_version", "subject", "value", "threshold", "flagged"],
                     column_config={"kind": ctx.t("models.check"), "model_version": ctx.t("models.version"),
                                    "subject": ctx.t("models.figure"), "value": ctx.t("models.value"),
                                    "threshold": ctx.t("models.limit"), "flagged": ctx.t("models.flagged")})

if not manage:
    st.caption(ctx.t("models.retraining_and_promotion_are_for_data"))
    st.stop()

st.divider()
c1, c2 = st.columns(2)
with c1, st.container(border=True):
    st.subheader(ctx.t("models.retrain"))
    horizon = st.number_input(ctx.t("models.horizon_days"), 1, 90, 7, key="models.horizon")
    budget = st.slider(ctx.t("models.alert_budget_share_of_machines_alerted"), 0.02, 0.5, 0.10,
                       0.01, key="models.budget")
    if st.button(ctx.t("models.train_a_new_version"), type="primary", key="models.train",
                 icon=":material/model_training:"):
        with st.status(ctx.t("models.training"), expanded=True) as status:
            try:
                res = retrain(core.engine(), ctx.scope, horizon_days=int(horizon), alert_rate=float(budget),
                              progress=lambda msg: status.write(msg))
            except Exception as exc:  # noqa: BLE001 - shown to the user, nothing half-registered
                status.update(label=ctx.t("models.training_failed"), state="error")
                st.error(str(exc))
            else:
                status.update(label=ctx.t("models.v_version_registered", version=res['version']),
                              state="complete")
                st.success(res["decision"])
                core.invalidate("live", "standard")
with c2, st.container(border=True):
    st.subheader(ctx.t("models.promote_a_version"))
    if df.empty:
        st.info(ctx.t("no_data"))
    else:
        versions = df["version"].tolist()
        v = st.selectbox(ctx.t("models.version"), versions, format_func=lambda x: f"v{x}", key="models.version")
        reason = st.text_input(ctx.t("models.reason_recorded"), key="models.reason")
        force = st.checkbox(ctx.t("models.force"), key="models.force")
        if st.button(ctx.t("models.make_champion"), key="models.promote", icon=":material/military_tech:",
                     disabled=v == data["champion"]):
            try:
                promote(core.engine(), ctx.scope, v, reason=reason, force=force)
            except RegistryError as exc:
                st.error(str(exc))
            else:
                core.invalidate("live", "standard")
                st.success(ctx.t("models.v_v_is_now_the_champion", v=v))
                st.rerun()
        if st.button(ctx.t("models.score_every_machine_now"), key="models.score",
                     icon=":material/speed:", disabled=data["champion"] is None):
            try:
                out = score_now(core.engine(), ctx.scope)
            except Exception as exc:  # noqa: BLE001
                st.error(str(exc))
            else:
                core.invalidate("live", "standard")
                st.success(ctx.t("models.assets_machines_scored_with_v_version", assets=out['assets'],
                                 version=out['version']))
