"""Models: versions of the failure model side by side, the champion; retrain, promote and score."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import core
from db.engine import describe_url
from ml.registry_view import models_overview, promote, retrain, score_now
from ml.tracking import RegistryError
from qhse.domain import access

ctx = core.page_context()
manage = access.can(ctx.scope, access.MANAGE_MODELS)

st.title(ctx.tr("Failure models", "故障预测模型"))

try:
    data = core.fetch(models_overview, ctx.scope, ttl="standard")
except Exception as exc:  # noqa: BLE001 - the registry may be unreachable; say so instead of failing
    st.error(ctx.tr(f"The model registry cannot be read: {exc}", f"无法读取模型注册表：{exc}"))
    st.stop()

df: pd.DataFrame = data["versions"]
if df.empty:
    st.info(ctx.tr("No model version yet: train the first one below or with `qhse ml train`.",
                   "还没有模型版本：可在下方训练，或运行 `qhse ml train`。"))
else:
    champ = df[df["champion"]]
    c1, c2, c3, c4 = st.columns(4, border=True)
    c1.metric(ctx.tr("Champion", "当前冠军模型"), f"v{data['champion']}" if data["champion"] else "-")
    if not champ.empty:
        r = champ.iloc[0]
        c2.metric(ctx.tr("Holdout PR-AUC", "留出集 PR-AUC"), ctx.num(r.get("holdout_pr_auc"), 3))
        c3.metric(ctx.tr("Holdout F1", "留出集 F1"), ctx.num(r.get("holdout_f1"), 3))
        c4.metric(ctx.tr("Alert threshold", "报警阈值"), ctx.num(r.get("threshold"), 3))
    st.subheader(ctx.tr("Versions side by side", "版本对比"))
    metric_cols = [c for c in ("holdout_pr_auc", "holdout_roc_auc", "holdout_f1", "holdout_precision",
                               "holdout_recall", "val_pr_auc", "threshold") if c in df]
    extra = [c for c in ("horizon_days", "n_trees", "rows_train", "rows_holdout", "n_features") if c in df]

    def cell(v):
        if v is None or (isinstance(v, float) and v != v):
            return "-"
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    names = {"holdout_pr_auc": ctx.tr("PR-AUC (holdout)", "PR-AUC（留出集）"),
             "holdout_roc_auc": ctx.tr("ROC-AUC (holdout)", "ROC-AUC（留出集）"),
             "holdout_f1": ctx.tr("F1 at threshold (holdout)", "阈值下 F1（留出集）"),
             "holdout_precision": ctx.tr("precision (holdout)", "精确率（留出集）"),
             "holdout_recall": ctx.tr("recall (holdout)", "召回率（留出集）"),
             "val_pr_auc": ctx.tr("PR-AUC (validation)", "PR-AUC（验证集）"), "threshold": ctx.tr("alert threshold", "报警阈值"),
             "horizon_days": ctx.tr("horizon (days)", "预测时长（天）"), "n_trees": ctx.tr("trees", "树数量"),
             "rows_train": ctx.tr("training rows", "训练样本"), "rows_holdout": ctx.tr("holdout rows", "留出样本"),
             "n_features": ctx.tr("features", "特征数")}
    rows_ = metric_cols + extra
    side = pd.DataFrame({f"v{r['version']}" + (" ★" if r["version"] == data["champion"] else ""):
                         [cell(r.get(c)) for c in rows_] for _, r in df.iterrows()},
                        index=[names.get(c, c) for c in rows_])
    st.dataframe(side, width="stretch", height=38 + 35 * len(rows_))
    st.dataframe(df.assign(created=df["created"].map(ctx.datetime)), hide_index=True, width="stretch",
                 column_order=[c for c in ("version", "champion", "created", "run_name", "decision", "promoted_by",
                                           "promotion_reason") if c in df],
                 column_config={"version": ctx.tr("Version", "版本"), "champion": ctx.tr("Champion", "冠军"),
                                "created": ctx.tr("Registered", "注册时间"), "run_name": ctx.tr("Run", "运行"),
                                "decision": ctx.tr("Automatic decision", "自动决策"),
                                "promoted_by": ctx.tr("Promoted by", "提升人"),
                                "promotion_reason": ctx.tr("Reason", "原因")})
    where = describe_url(data["tracking_uri"]) if data["tracking_uri"].startswith("postgresql") else data["tracking_uri"]
    st.caption(ctx.tr(f"MLflow tracking: {where} · `mlflow ui --backend-store-uri $(qhse ml tracking-uri)` shows "
                      "every run with its SHAP summary and artifacts.",
                      f"MLflow 跟踪库：{where}；运行 `mlflow ui --backend-store-uri $(qhse ml tracking-uri)` 可查看全部运行、"
                      "SHAP 摘要和产物。"))

if not manage:
    st.caption(ctx.tr("Retraining and promotion are for data scientists.", "重新训练和提升模型仅限数据科学家。"))
    st.stop()

st.divider()
c1, c2 = st.columns(2)
with c1, st.container(border=True):
    st.subheader(ctx.tr("Retrain", "重新训练"))
    horizon = st.number_input(ctx.tr("Horizon (days)", "预测时长（天）"), 1, 90, 7, key="models.horizon")
    budget = st.slider(ctx.tr("Alert budget (share of machines alerted)", "报警预算（报警设备占比）"), 0.02, 0.5, 0.10,
                       0.01, key="models.budget")
    if st.button(ctx.tr("Train a new version", "训练新版本"), type="primary", key="models.train",
                 icon=":material/model_training:"):
        with st.status(ctx.tr("Training...", "训练中..."), expanded=True) as status:
            try:
                res = retrain(core.engine(), ctx.scope, horizon_days=int(horizon), alert_rate=float(budget),
                              progress=lambda msg: status.write(msg))
            except Exception as exc:  # noqa: BLE001 - shown to the user, nothing half-registered
                status.update(label=ctx.tr("Training failed", "训练失败"), state="error")
                st.error(str(exc))
            else:
                status.update(label=ctx.tr(f"v{res['version']} registered", f"v{res['version']} 已注册"),
                              state="complete")
                st.success(res["decision"])
                core.invalidate("live", "standard")
with c2, st.container(border=True):
    st.subheader(ctx.tr("Promote a version", "提升版本为冠军"))
    if df.empty:
        st.info(ctx.t("no_data"))
    else:
        versions = df["version"].tolist()
        v = st.selectbox(ctx.tr("Version", "版本"), versions, format_func=lambda x: f"v{x}", key="models.version")
        reason = st.text_input(ctx.tr("Reason (recorded)", "原因（将被记录）"), key="models.reason")
        if st.button(ctx.tr("Make champion", "设为冠军"), key="models.promote", icon=":material/military_tech:",
                     disabled=v == data["champion"]):
            try:
                promote(core.engine(), ctx.scope, v, reason=reason)
            except RegistryError as exc:
                st.error(str(exc))
            else:
                core.invalidate("live", "standard")
                st.success(ctx.tr(f"v{v} is now the champion.", f"v{v} 已成为冠军模型。"))
                st.rerun()
        if st.button(ctx.tr("Score every machine now", "立即为全部设备评分"), key="models.score",
                     icon=":material/speed:", disabled=data["champion"] is None):
            try:
                out = score_now(core.engine(), ctx.scope)
            except Exception as exc:  # noqa: BLE001
                st.error(str(exc))
            else:
                core.invalidate("live", "standard")
                st.success(ctx.tr(f"{out['assets']} machines scored with v{out['version']}.",
                                  f"已用 v{out['version']} 为 {out['assets']} 台设备评分。"))
