"""Server-rendered SVG charts (no JavaScript library, nothing loaded from outside the Airflow host).

Every chart is a :class:`markupsafe.Markup` string; every text that reaches it (labels, tooltips) is
escaped here. Each data point is an element with class ``pt`` (tests count them), failed runs carry
class ``failed`` and runs that used an applied recommendation a ``rec`` marker.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

CLOUD_COLOUR = "#4e79a7"
DBU_COLOUR = "#f28e2b"
STORAGE_COLOUR = "#76b7b2"
RUNTIME_COLOUR = "#59a14f"
FAILED_COLOUR = "#e15759"
SLA_COLOUR = "#b07aa1"
#: Marker of the first run on a newly applied recommendation (distinct from the SLA line).
REC_COLOUR = "#9c755f"
#: At most this many x-axis labels per chart (every k-th run is labelled).
MAX_X_LABELS = 12


@dataclass(frozen=True, slots=True)
class ChartPoint:
    """One run as the timeline charts draw it."""

    label: str
    cloud_usd: float
    dbu_usd: float
    storage_usd: float
    runtime_s: float | None
    failed: bool = False
    recommendation_applied: bool = False
    #: short x-axis label (run number or date, e.g. ``#12`` / ``01-05``); defaults to ``label``
    tick: str | None = None

    @property
    def total_usd(self) -> float:
        return self.cloud_usd + self.dbu_usd + self.storage_usd


#: Number of intervals on the y axis (5 gridlines including 0).
Y_STEPS = 4


def nice_step(value: float, steps: int = Y_STEPS) -> float:
    """The smallest 1/2/5 x 10^k step such that ``steps`` of them cover ``value`` (ticks read 0, 5, 10 ...)."""
    if value <= 0 or not math.isfinite(value):
        return 0.25
    raw = value / steps
    exp = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * exp * (1 + 1e-9):
            return m * exp
    return 10 * exp


def _nice_max(value: float) -> float:
    return nice_step(value) * Y_STEPS


def _fmt(v: float) -> str:
    if abs(v) >= 10:
        return f"{v:,.0f}"
    return f"{v:.2f}".rstrip("0").rstrip(".")


class _Frame:
    """Plot area and y axis helpers."""

    def __init__(self, width: int, height: int, n: int, ymax: float) -> None:
        self.w, self.h = width, height
        self.left, self.right, self.top, self.bottom = 52, 12, 12, 40
        self.n = max(n, 1)
        self.ymax = _nice_max(ymax)

    @property
    def pw(self) -> float:
        return self.w - self.left - self.right

    @property
    def ph(self) -> float:
        return self.h - self.top - self.bottom

    def x(self, i: int) -> float:
        return self.left + (i + 0.5) * self.pw / self.n

    def y(self, v: float) -> float:
        return self.top + self.ph * (1 - min(max(v, 0.0), self.ymax) / self.ymax)

    def band(self) -> float:
        return self.pw / self.n

    def axes(self, unit: str) -> list[str]:
        out = []
        for k in range(Y_STEPS + 1):
            v = self.ymax * k / Y_STEPS
            y = self.y(v)
            out.append(
                f'<line class="grid" x1="{self.left}" x2="{self.w - self.right}" y1="{y:.1f}" y2="{y:.1f}"/>'
                f'<text class="tick" x="{self.left - 4}" y="{y + 4:.1f}" text-anchor="end">'
                f"{escape(unit)}{_fmt(v)}</text>"
            )
        return out

    def x_labels(self, ticks: Sequence[str]) -> list[str]:
        """Labels under the plot (every k-th run, at most :data:`MAX_X_LABELS`, always the last one)."""
        n = len(ticks)
        if not n:
            return []
        every = max(1, math.ceil(n / MAX_X_LABELS))
        keep = [i for i in range(n) if i % every == 0]
        if keep[-1] != n - 1:
            if n - 1 - keep[-1] < every / 2 and len(keep) > 1:
                keep[-1] = n - 1
            else:
                keep.append(n - 1)
        y = self.top + self.ph + 11
        return [
            f'<text class="xtick" x="{self.x(i):.1f}" y="{y:.1f}" text-anchor="middle">{escape(ticks[i])}</text>'
            for i in keep
        ]


def _ticks(points: Sequence[ChartPoint]) -> list[str]:
    return [p.tick if p.tick is not None else p.label for p in points]


def _open(width: int, height: int, title: str, css: str) -> str:
    return (
        f'<svg class="chart {css}" role="img" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )


def _rec_marker(fr: _Frame, x: float) -> str:
    return (
        f'<g class="rec"><line x1="{x:.1f}" x2="{x:.1f}" y1="{fr.top}" y2="{fr.top + fr.ph}" '
        f'stroke="{REC_COLOUR}" stroke-dasharray="3 3"/>'
        f'<path d="M{x - 4:.1f},{fr.top} L{x + 4:.1f},{fr.top} L{x:.1f},{fr.top + 7}" fill="{REC_COLOUR}">'
        "<title>recommendation applied</title></path></g>"
    )


REC_LEGEND = ("recommendation applied", REC_COLOUR)


def cost_chart(points: Sequence[ChartPoint], *, width: int = 760, height: int = 240) -> Markup:
    """Stacked bars per run: cloud, DBU and storage cost; failed runs and applied recommendations marked.

    :param points: runs, oldest first
    """
    fr = _Frame(width, height, len(points), max((p.total_usd for p in points), default=0.0))
    parts = [_open(width, height, "Cost per run (cloud, DBU, storage)", "cost-chart"), *fr.axes("$")]
    parts.extend(fr.x_labels(_ticks(points)))
    bw = max(fr.band() * 0.7, 1.0)
    for i, p in enumerate(points):
        x = fr.x(i)
        if p.recommendation_applied:
            parts.append(_rec_marker(fr, x))
        cls = "pt failed" if p.failed else "pt"
        tip = (
            f"{p.label}: ${p.total_usd:.2f} (cloud ${p.cloud_usd:.2f}, DBU ${p.dbu_usd:.2f}, "
            f"storage ${p.storage_usd:.2f})" + (" — FAILED" if p.failed else "")
        )
        parts.append(f'<g class="{cls}"><title>{escape(tip)}</title>')
        base = 0.0
        for value, colour in (
            (p.cloud_usd, CLOUD_COLOUR),
            (p.dbu_usd, DBU_COLOUR),
            (p.storage_usd, STORAGE_COLOUR),
        ):
            if value <= 0:
                continue
            y0, y1 = fr.y(base), fr.y(base + value)
            parts.append(
                f'<rect x="{x - bw / 2:.1f}" y="{y1:.1f}" width="{bw:.1f}" height="{max(y0 - y1, 0.5):.1f}" '
                f'fill="{colour}"/>'
            )
            base += value
        if p.failed:
            y = fr.y(base) - 6
            parts.append(
                f'<text class="fail-mark" x="{x:.1f}" y="{y:.1f}" text-anchor="middle" fill="{FAILED_COLOUR}">✕</text>'
            )
        parts.append("</g>")
    legend = [("cloud", CLOUD_COLOUR), ("DBU", DBU_COLOUR), ("storage", STORAGE_COLOUR)]
    if any(p.recommendation_applied for p in points):
        legend.append(REC_LEGEND)
    parts.append(_legend(fr, legend))
    parts.append("</svg>")
    return Markup("".join(parts))


def runtime_chart(
    points: Sequence[ChartPoint], sla_minutes: float | None, *, width: int = 760, height: int = 240
) -> Markup:
    """Runtime per run (minutes) as a line, the SLA as a horizontal line, failures and recommendations marked.

    :param points: runs, oldest first
    :param sla_minutes: the project's SLA (no line when None)
    """
    mins = [p.runtime_s / 60 for p in points if p.runtime_s is not None]
    top = max([*mins, (sla_minutes or 0) * 1.1]) if mins or sla_minutes else 0.0
    fr = _Frame(width, height, len(points), top)
    parts = [_open(width, height, "Runtime per run vs SLA (minutes)", "runtime-chart"), *fr.axes("")]
    parts.extend(fr.x_labels(_ticks(points)))
    if sla_minutes:
        y = fr.y(sla_minutes)
        parts.append(
            f'<g class="sla"><line x1="{fr.left}" x2="{width - fr.right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{SLA_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>'
            f'<text x="{width - fr.right - 2}" y="{y - 4:.1f}" text-anchor="end" fill="{SLA_COLOUR}">'
            f"SLA {escape(_fmt(sla_minutes))} min</text></g>"
        )
    path: list[str] = []
    for i, p in enumerate(points):
        if p.recommendation_applied:
            parts.append(_rec_marker(fr, fr.x(i)))
        if p.runtime_s is not None:
            path.append(f"{'M' if not path else 'L'}{fr.x(i):.1f},{fr.y(p.runtime_s / 60):.1f}")
    if path:
        parts.append(
            f'<path class="line" d="{" ".join(path)}" fill="none" stroke="{RUNTIME_COLOUR}" stroke-width="2"/>'
        )
    for i, p in enumerate(points):
        cls = "pt failed" if p.failed else "pt"
        rt = p.runtime_s / 60 if p.runtime_s is not None else 0.0
        colour = FAILED_COLOUR if p.failed else RUNTIME_COLOUR
        tip = f"{p.label}: {rt:.1f} min" + (" — FAILED" if p.failed else "")
        parts.append(
            f'<circle class="{cls}" cx="{fr.x(i):.1f}" cy="{fr.y(rt):.1f}" r="{4 if p.failed else 3}" '
            f'fill="{colour}"><title>{escape(tip)}</title></circle>'
        )
    legend = [("runtime", RUNTIME_COLOUR), ("SLA", SLA_COLOUR), ("failed", FAILED_COLOUR)]
    if any(p.recommendation_applied for p in points):
        legend.append(REC_LEGEND)
    parts.append(_legend(fr, legend))
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(fr: _Frame, items: Sequence[tuple[str, str]]) -> str:
    out = ['<g class="legend">']
    x = fr.left
    y = fr.h - 8
    for name, colour in items:
        out.append(
            f'<rect x="{x}" y="{y - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y + 1}">{escape(name)}</text>'
        )
        x += 20 + 6 * len(name)
    out.append("</g>")
    return "".join(out)


def sparkline(values: Sequence[float], *, width: int = 90, height: int = 22) -> Markup:
    """A tiny trend line (e.g. cost of the last runs), neutral colour; empty when fewer than two values."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if len(vals) < 2:
        return Markup("")
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    step = (width - 4) / (len(vals) - 1)
    pts = " ".join(
        f"{2 + i * step:.1f},{height - 2 - (v - lo) / span * (height - 4):.1f}" for i, v in enumerate(vals)
    )
    colour = CLOUD_COLOUR  # neutral: the run-to-run trend is not the ROI (see the Savings column)
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><polyline points="{pts}" fill="none" stroke="{colour}" '
        f'stroke-width="1.5"/></svg>'
    )


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    unit: str = "",
    css: str = "bars",
    width: int = 520,
    height: int = 180,
) -> Markup:
    """Simple bar chart (Discover timelines), one ``pt`` bar per label.

    :param labels: x labels (e.g. days)
    :param values: one value per label
    :param title: accessible title
    """
    fr = _Frame(width, height, len(values), max(values, default=0.0))
    parts = [_open(width, height, title, css), *fr.axes(unit)]
    bw = max(fr.band() * 0.75, 1.0)
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = fr.y(v)
        parts.append(
            f'<rect class="pt" x="{fr.x(i) - bw / 2:.1f}" y="{y:.1f}" width="{bw:.1f}" '
            f'height="{max(fr.top + fr.ph - y, 0.0):.1f}" fill="{CLOUD_COLOUR}">'
            f"<title>{escape(label)}: {escape(unit)}{escape(_fmt(v))}</title></rect>"
        )
    if labels:
        for i, anchor in ((0, "start"), (len(labels) - 1, "end")):
            x = fr.left if anchor == "start" else width - fr.right
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{height - 12}" text-anchor="{anchor}">{escape(labels[i])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
