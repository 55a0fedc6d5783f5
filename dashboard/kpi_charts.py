"""Plotly figures of the Scorecards, Site comparison and Resources pages (drawing only)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts import PALETTE

RATING_COLORS = {"excellent": "#1a7f37", "qualified": "#1f6feb", "needs_improvement": "#d1242f",
                 "not_available": "#8c959f"}
RISK_CLASS_COLORS = {"A": "#d1242f", "B": "#bf8700", "C": "#1a7f37"}


def _layout(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white",
                      legend=dict(orientation="h", y=-0.2))
    return fig


def score_history(hist: pd.DataFrame, title: str, unit: str, labels: dict[str, str]) -> go.Figure:
    """An indicator's monthly values, coloured by rating, with its thresholds."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=hist["period"], y=hist["value"], mode="lines+markers", name=labels["value"],
                             line=dict(color=PALETTE[0], width=2),
                             marker=dict(size=10, color=[RATING_COLORS.get(r, "#8c959f") for r in hist["rating"]]),
                             text=[labels.get(r, r) for r in hist["rating"]],
                             hovertemplate="%{x|%Y-%m}: %{y:.2f} (%{text})<extra></extra>"))
    if not hist.empty:
        last = hist.iloc[-1]
        fig.add_hline(y=last["excellent_at"], line=dict(color=RATING_COLORS["excellent"], dash="dot"),
                      annotation_text=labels["excellent"], annotation_position="top left")
        if last["qualified_at"] != last["excellent_at"]:
            fig.add_hline(y=last["qualified_at"], line=dict(color=RATING_COLORS["needs_improvement"], dash="dot"),
                          annotation_text=labels["qualified"], annotation_position="bottom left")
    fig.update_yaxes(title=unit)
    return _layout(fig, title, 300)


def kpi_bars(rows: pd.DataFrame, label_col: str, value_col: str, median: float | None, best: float | None,
             title: str, labels: dict[str, str], y_title: str) -> go.Figure:
    """One KPI side by side per unit, with the group median and the best as reference lines."""
    fig = go.Figure(go.Bar(x=rows[label_col], y=rows[value_col], marker_color=PALETTE[0], name=y_title,
                           hovertemplate="%{x}: %{y:.2f}<extra></extra>"))
    # No reference line without a value: plotly draws a NaN line corner to corner.
    if median is not None and median == median:
        fig.add_hline(y=median, line=dict(color="#57606a", dash="dash"), annotation_text=labels["median"],
                      annotation_position="top left")
    if best is not None and best == best:
        fig.add_hline(y=best, line=dict(color=RATING_COLORS["excellent"], dash="dot"), annotation_text=labels["best"],
                      annotation_position="bottom right")
    fig.update_yaxes(title=y_title, rangemode="tozero")
    return _layout(fig, title)


def health_trend(df: pd.DataFrame, title: str) -> go.Figure:
    fig = go.Figure()
    for i, (unit, part) in enumerate(df.groupby("label", sort=True)):
        fig.add_trace(go.Scatter(x=part["month"], y=part["index"], name=unit, mode="lines+markers",
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    fig.update_yaxes(range=[0, 100])
    return _layout(fig, title)


def risk_contributions(areas: pd.DataFrame, components: dict[str, str], title: str) -> go.Figure:
    """Area risk index as stacked points per component, highest risk first."""
    df = areas.sort_values("risk_index", ascending=True)
    fig = go.Figure()
    for i, (col, name) in enumerate(components.items()):
        fig.add_trace(go.Bar(y=df["label"], x=df[col], name=name, orientation="h",
                             marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(range=[0, 100])
    return _layout(fig, title, max(320, 26 * len(df) + 80))


def stock_vs_recommended(rows: pd.DataFrame, title: str, labels: dict[str, str]) -> go.Figure:
    """Per area: units stocked and recommended (areas ordered by risk)."""
    df = rows.sort_values("risk_index", ascending=False)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=df["label"], y=df["stocked"], name=labels["stocked"], marker_color="#8c959f"))
    fig.add_trace(go.Bar(x=df["label"], y=df["recommended"], name=labels["recommended"], marker_color=PALETTE[0]))
    fig.update_layout(barmode="group")
    return _layout(fig, title)
