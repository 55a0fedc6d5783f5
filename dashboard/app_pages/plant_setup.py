"""Plant set-up: load a plant from files (org, assets, sensor kinds, sensors, readings, failures,
maintenance, machine events), the same importers and service as ``qhse import``.

An uploaded file is first checked in full (written and rolled back): the page shows its first
rows, the row errors with their line and column, and what an import would insert, update or
find already present.  Only the import button keeps anything, as the signed-in user (audited).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import core
from ingestion.importers import ImportFileError, columns, run_import
from qhse.domain import access
from qhse.services.actors import ActorError

ctx = core.page_context()

KIND_LABELS = {
    "org": ctx.t("plant_setup.kind_org"),
    "assets": ctx.t("plant_setup.kind_assets"),
    "sensor-kinds": ctx.t("plant_setup.kind_sensor_kinds"),
    "sensors": ctx.t("plant_setup.kind_sensors"),
    "readings": ctx.t("plant_setup.kind_readings"),
    "failures": ctx.t("plant_setup.kind_failures"),
    "maintenance": ctx.t("plant_setup.kind_maintenance"),
    "events": ctx.t("plant_setup.kind_events"),
}

st.caption(ctx.t("plant_setup.intro"))
kind: str = st.selectbox(ctx.t("plant_setup.file_kind"), list(KIND_LABELS),
                         format_func=lambda k: KIND_LABELS[k], key="ps.kind") or "org"
cols = pd.DataFrame([{ctx.t("plant_setup.column"): c,
                      ctx.t("plant_setup.required"): ctx.t("plant_setup.yes") if req else "",
                      ctx.t("plant_setup.type"): t} for c, req, t in columns(kind)])
with st.expander(ctx.t("plant_setup.columns_of_this_kind")):
    st.dataframe(cols, hide_index=True, width="stretch")

suffixes = ["csv", "parquet"] if kind == "readings" else ["csv"]
up = st.file_uploader(ctx.t("plant_setup.file"), type=suffixes, key=f"ps.file.{kind}")
skip_bad = st.checkbox(ctx.t("plant_setup.skip_bad"), key="ps.skip_bad")
allowed = ctx.can(access.MANAGE_PLANT)


def _check(data: bytes, name: str, *, keep: bool):
    """Run the importer on the upload (a preview rolls back); (report, first rows) or an error text."""
    suffix = ".parquet" if name.lower().endswith((".parquet", ".pq")) else ".csv"
    with tempfile.TemporaryDirectory(prefix="qhse-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            if suffix == ".parquet":
                head = pd.read_parquet(path).head(10)
            else:
                head = pd.read_csv(path, nrows=10, dtype=str, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is shown, not raised
            return None, None, core.plain(str(exc)).replace(str(path), name)
        try:
            report = run_import(kind, path, engine=core.engine(), actor=ctx.scope, skip_bad=skip_bad,
                                dry_run=not keep)
        except (ImportFileError, ActorError, access.AccessDenied) as exc:
            return None, head, str(exc).replace(str(path), name)
    return report, head, None


if up is not None:
    data = up.getvalue()
    digest = (kind, hashlib.sha256(data).hexdigest(), skip_bad)
    if st.session_state.get("ps.checked", (None,))[0] != digest:
        st.session_state["ps.checked"] = (digest, *_check(data, up.name, keep=False))
    _, report, head, error = st.session_state["ps.checked"]
    if head is not None:
        st.subheader(ctx.t("plant_setup.first_rows"))
        st.dataframe(head, hide_index=True, width="stretch")
    if error:
        st.error(ctx.t("plant_setup.file_refused", exc=error))
    elif report is not None:
        st.subheader(ctx.t("plant_setup.check"))
        c1, c2, c3, c4 = st.columns(4)
        c1.metric(ctx.t("plant_setup.rows"), ctx.num(report.rows))
        c2.metric(ctx.t("plant_setup.bad_rows"), ctx.num(report.error_count))
        c3.metric(ctx.t("plant_setup.would_insert"), ctx.num(report.inserted))
        c4.metric(ctx.t("plant_setup.would_update"), ctx.num(report.updated))
        if report.errors:
            st.dataframe(pd.DataFrame([{ctx.t("plant_setup.line"): e.line, ctx.t("plant_setup.column"): e.column or "",
                                        ctx.t("plant_setup.problem"): e.message} for e in report.errors]),
                         hide_index=True, width="stretch")
        blocked = report.error_count > 0 and not skip_bad
        if blocked:
            st.warning(ctx.t("plant_setup.fix_or_skip"))
        if not allowed:
            st.info(ctx.t("plant_setup.needs_permission"))
        if st.button(ctx.t("plant_setup.import"), type="primary", disabled=blocked or not allowed, key="ps.go"):
            done, _head, err = _check(data, up.name, keep=True)
            if err or done is None or not done.imported:
                st.error(ctx.t("plant_setup.file_refused", exc=err or (done.summary() if done else "")))
            else:
                core.invalidate("live", "standard")
                st.session_state.pop("ps.checked", None)
                st.success(ctx.t("plant_setup.imported", inserted=done.inserted, updated=done.updated,
                                 unchanged=done.unchanged))
