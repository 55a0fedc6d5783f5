"""Plotly figure builders shared by pages (drawing only: data comes ready from queries)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

PALETTE = ["#1f6feb", "#d1242f", "#8250df", "#1a7f37", "#bf8700", "#0a7f8f"]
SEVERITY_COLORS = {"critical": "#d1242f", "warning": "#bf8700", "info": "#1f6feb",
                   "severe": "#82071e", "high": "#d1242f", "normal": "#bf8700", "low": "#1a7f37"}


def _layout(fig: go.Figure, height: int = 320, **kw) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.15),
                      template="plotly_white", **kw)
    return fig


def lines(df: pd.DataFrame, x: str, series: dict[str, str], title: str, y_title: str = "",
          height: int = 300) -> go.Figure:
    fig = go.Figure()
    for i, (col, name) in enumerate(series.items()):
        if col in df:
            fig.add_trace(go.Scatter(x=df[x], y=df[col], name=name, mode="lines+markers",
                                     line=dict(color=PALETTE[i % len(PALETTE)], width=2)))
    fig.update_yaxes(title=y_title, rangemode="tozero")
    return _layout(fig, height, title=title)


def heatmap(z, x, y, title: str, colorbar: str, text=None, zmax: float | None = None, height: int = 420,
            customdata=None, hover: str | None = None) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, colorscale="YlOrRd", zmin=0, zmax=zmax, text=text,
                               texttemplate="%{text}" if text is not None else None, customdata=customdata,
                               hovertemplate=hover, colorbar=dict(title=colorbar), xgap=2, ygap=2))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height, title=title)


def risk_matrix(counts: pd.DataFrame, classes: pd.DataFrame, title: str, x_title: str, y_title: str,
                colors: dict[str, str], height: int = 420) -> go.Figure:
    """5x5 likelihood x consequence matrix: cell colour = risk class, number = items."""
    order = list(colors)
    zc = classes.map(lambda c: order.index(c)).values
    n = len(order)
    scale = []
    for i, c in enumerate(order):
        scale += [(i / n, colors[c]), ((i + 1) / n, colors[c])]
    fig = go.Figure(go.Heatmap(
        z=zc, x=list(counts.columns), y=list(counts.index), zmin=-0.5, zmax=n - 0.5, colorscale=scale,
        showscale=False, text=counts.values, texttemplate="%{text}", textfont=dict(size=16),
        customdata=classes.values, hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}<br>%{{customdata}}: %{{text}}"
                                                 "<extra></extra>", xgap=3, ygap=3))
    fig.update_xaxes(title=x_title, dtick=1)
    fig.update_yaxes(title=y_title, dtick=1)
    return _layout(fig, height, title=title)


def bars(df: pd.DataFrame, x: str, y: str, title: str, color: str | None = None, horizontal: bool = False,
         height: int = 300, color_map: dict | None = None) -> go.Figure:
    fig = go.Figure()
    groups = [(None, df)] if color is None else list(df.groupby(color, sort=False))
    for i, (name, part) in enumerate(groups):
        c = (color_map or {}).get(name, PALETTE[i % len(PALETTE)])
        if horizontal:
            fig.add_trace(go.Bar(y=part[x], x=part[y], name=str(name) if name is not None else y, orientation="h",
                                 marker_color=c))
        else:
            fig.add_trace(go.Bar(x=part[x], y=part[y], name=str(name) if name is not None else y, marker_color=c))
    fig.update_layout(barmode="stack", showlegend=color is not None)
    if horizontal:
        fig.update_yaxes(autorange="reversed")
    return _layout(fig, height, title=title)


def waterfall(base: float, contributions: list[dict], final: float, title: str, base_label: str,
              final_label: str, height: int = 380) -> go.Figure:
    """SHAP waterfall: base value, one bar per feature contribution, model output (log-odds)."""
    labels = [base_label] + [f"{c['feature']} = {c['value']:.4g}" if c.get("value") is not None else c["feature"]
                             for c in contributions] + [final_label]
    measures = ["absolute"] + ["relative"] * len(contributions) + ["total"]
    values = [base] + [c["contribution"] for c in contributions] + [final]
    fig = go.Figure(go.Waterfall(orientation="h", y=labels, x=values, measure=measures,
                                 increasing=dict(marker_color="#d1242f"), decreasing=dict(marker_color="#1a7f37"),
                                 totals=dict(marker_color="#1f6feb"), connector=dict(line=dict(color="#999"))))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height, title=title)


def sensor_history(df: pd.DataFrame, title: str, unit: str, thresholds: dict[str, float | None],
                   labels: dict[str, str], height: int = 380) -> go.Figure:
    """Band (min..max) and mean line of a rollup, with warning and alarm thresholds drawn."""
    fig = go.Figure()
    if not df.empty:
        fig.add_trace(go.Scatter(x=df["t"], y=df["max"], line=dict(width=0), showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=df["t"], y=df["min"], fill="tonexty", fillcolor="rgba(31,111,235,0.15)",
                                 line=dict(width=0), name=labels["range"]))
        fig.add_trace(go.Scatter(x=df["t"], y=df["avg"], name=labels["mean"], line=dict(color="#1f6feb", width=1.5)))
    styles = {"warn_low": ("#bf8700", "dash"), "warn_high": ("#bf8700", "dash"),
              "alarm_low": ("#d1242f", "solid"), "alarm_high": ("#d1242f", "solid")}
    for k, v in thresholds.items():
        if v is None or v != v:
            continue
        color, dash = styles[k]
        fig.add_hline(y=v, line=dict(color=color, dash=dash, width=1.5),
                      annotation_text=f"{labels[k]} {v:g}", annotation_position="top left")
    fig.update_yaxes(title=unit)
    return _layout(fig, height, title=title)


def tile_grid(x: list, y: list, colors: list, text: list, customdata: list, hover: list, title: str,
              x_title: str = "", y_title: str = "", height: int = 380, tile_px: int = 60,
              colorscale: str | None = None, cmin: float | None = None, cmax: float | None = None,
              colorbar: str | None = None, x_order: list | None = None, y_order: list | None = None) -> go.Figure:
    """A clickable heat map: one square marker per cell (a scatter trace, so a click selects a cell).

    ``colors``: numbers (with ``colorscale``) or CSS colours.  ``customdata``: what a click returns.
    """
    marker = dict(symbol="square", size=tile_px, line=dict(width=1, color="white"))
    if colorscale:
        marker.update(color=colors, colorscale=colorscale, cmin=cmin, cmax=cmax, showscale=True,
                      colorbar=dict(title=colorbar or ""))
    else:
        marker.update(color=colors)
    fig = go.Figure(go.Scatter(x=x, y=y, mode="markers+text", marker=marker, text=text, textposition="middle center",
                               textfont=dict(size=11, color="#111"), customdata=customdata, hovertext=hover,
                               hoverinfo="text"))
    fig.update_xaxes(title=x_title, type="category", categoryorder="array", categoryarray=x_order or sorted(set(x)),
                     showgrid=False, zeroline=False)
    fig.update_yaxes(title=y_title, type="category", categoryorder="array",
                     categoryarray=list(reversed(y_order or sorted(set(y)))), showgrid=False, zeroline=False)
    fig.update_layout(clickmode="event+select", dragmode=False)
    return _layout(fig, height, title=title)
