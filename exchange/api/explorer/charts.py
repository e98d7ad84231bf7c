"""Server-rendered inline SVG charts (no JavaScript, no charting library, no CDN).

Two shapes are enough for the explorer: a line chart (marks per market over
batches, solvency margin over time) and a bar chart (volume per market per
batch). Inputs are integer series; coordinates are computed in integer
pixels. Every chart carries a ``<title>`` and a text table fallback is
rendered next to it by the templates, so nothing depends on reading the SVG.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
PAD_L, PAD_R, PAD_T, PAD_B = 70, 12, 30, 28  # the legend sits in the top band
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


@dataclass
class Series:
    label: str
    values: Sequence[int | None]  # None = no point at this x


def _scale(lo: int, hi: int, v: int, pixels: int) -> int:
    return 0 if hi == lo else (v - lo) * pixels // (hi - lo)


def _frame(
    title: str, xs: Sequence[int], lo: int, hi: int, body: list[str], legend: list[str]
) -> Markup:
    inner_h = HEIGHT - PAD_T - PAD_B
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{PAD_T + inner_h}" stroke="#888"/>',
        f'<line x1="{PAD_L}" y1="{PAD_T + inner_h}" x2="{WIDTH - PAD_R}" y2="{PAD_T + inner_h}" stroke="#888"/>',
        f'<text x="{PAD_L - 4}" y="{PAD_T + 10}" text-anchor="end" font-size="11">{hi:,}</text>',
        f'<text x="{PAD_L - 4}" y="{PAD_T + inner_h}" text-anchor="end" font-size="11">{lo:,}</text>',
    ]
    if xs:
        parts.append(
            f'<text x="{PAD_L}" y="{HEIGHT - 8}" font-size="11">{xs[0]}</text>'
            f'<text x="{WIDTH - PAD_R}" y="{HEIGHT - 8}" text-anchor="end" font-size="11">{xs[-1]}</text>'
        )
    parts += body
    for i, label in enumerate(legend):
        x = PAD_L + 10 + 150 * i
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="15" font-size="11">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    title: str, xs: Sequence[int], series: Sequence[Series], *, zero_line: bool = False
) -> Markup:
    """One polyline per series over the x positions ``xs`` (e.g. batch ids)."""
    values = [v for s in series for v in s.values if v is not None]
    if not xs or not values:
        return Markup("")
    lo, hi = min(values), max(values)
    if zero_line:
        lo, hi = min(lo, 0), max(hi, 0)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    inner_w, inner_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    n = len(xs)
    body = []
    if zero_line:
        y0 = PAD_T + inner_h - _scale(lo, hi, 0, inner_h)
        body.append(
            f'<line x1="{PAD_L}" y1="{y0}" x2="{WIDTH - PAD_R}" y2="{y0}" stroke="#bbb" stroke-dasharray="4 3"/>'
        )
    for k, s in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        points = []
        for i, v in enumerate(s.values):
            if v is None:
                continue
            x = PAD_L + (inner_w * i // (n - 1) if n > 1 else inner_w // 2)
            y = PAD_T + inner_h - _scale(lo, hi, v, inner_h)
            points.append((x, y, v, xs[i]))
        if len(points) > 1:
            path = " ".join(f"{x},{y}" for x, y, _, _ in points)
            body.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>'
            )
        for x, y, v, xv in points:
            body.append(
                f'<circle cx="{x}" cy="{y}" r="3" fill="{color}"><title>{escape(s.label)} at {xv}: {v:,}</title></circle>'
            )
    return _frame(title, xs, lo, hi, body, [s.label for s in series])


def bar_chart(title: str, xs: Sequence[int], series: Sequence[Series]) -> Markup:
    """Grouped bars: for each x, one bar per series (e.g. volume per market per batch)."""
    values = [v for s in series for v in s.values if v is not None]
    if not xs or not values:
        return Markup("")
    hi = max(max(values), 1)
    lo = 0
    inner_w, inner_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    slot = max(inner_w // len(xs), 1)
    bar = max((slot - 2) // max(len(series), 1), 1)
    body = []
    for k, s in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        for i, v in enumerate(s.values):
            if not v:
                continue
            h = _scale(lo, hi, v, inner_h)
            x = PAD_L + slot * i + 1 + bar * k
            y = PAD_T + inner_h - h
            body.append(
                f'<rect x="{x}" y="{y}" width="{bar}" height="{h}" fill="{color}">'
                f"<title>{escape(s.label)} at {xs[i]}: {v:,}</title></rect>"
            )
    return _frame(title, xs, lo, hi, body, [s.label for s in series])
