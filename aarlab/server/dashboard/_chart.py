"""The PGR-over-time chart as inline SVG, rendered on the server (no script needed to draw it).

One chart per dataset: x = time of each stored evaluation, y = its public PGR, one series (colour) per agent;
baselines are dashed horizontal lines. Only presentation attributes are used (no ``style``), so the page's strict
Content-Security-Policy holds, and every text is escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from aarlab.server.dashboard._data import DatasetView, Evaluation

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22")
BASELINE_COLOURS = {"weak": "#888888", "vanilla": "#555555", "ceiling": "#222222"}
WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 150, 16, 34


def agent_colours(names: list[str]) -> dict[str, str]:
    """A stable colour per agent (by sorted name)."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(sorted(names))}


def _fmt_time(t: float, span: float) -> str:
    moment = datetime.fromtimestamp(t, UTC)
    return moment.strftime("%H:%M:%S" if span < 600 else "%H:%M" if span < 86400 else "%m-%d %H:%M")


def pgr_chart(dataset: DatasetView, evaluations: list[Evaluation], colours: dict[str, str], *,
              namespace: bool = True) -> str:
    """An ``<svg>`` element of one dataset's evaluations; points carry ``class="point"`` and data attributes.

    ``namespace=False`` leaves out the xmlns attribute (HTML needs none; a self-contained report then holds no URL).
    """
    points = [e for e in evaluations if e.dataset == dataset.name and e.public_pgr is not None]
    values = [e.public_pgr for e in points if e.public_pgr is not None] + [b.pgr for b in dataset.baselines]
    y_lo, y_hi = min([0.0, *values]) - 0.05, max([1.0, *values]) + 0.05
    times = [e.time for e in points]
    t_lo, t_hi = (min(times), max(times)) if times else (0.0, 1.0)
    if t_hi - t_lo < 1:
        t_lo, t_hi = t_lo - 30, t_hi + 30
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return round(LEFT + (t - t_lo) / (t_hi - t_lo) * plot_w, 1)

    def y(v: float) -> float:
        return round(TOP + (y_hi - v) / (y_hi - y_lo) * plot_h, 1)

    title = f"Public PGR over time, dataset {dataset.name}"
    xmlns = ' xmlns="http://www.w3.org/2000/svg"' if namespace else ""
    parts = [f'<svg{xmlns} class="pgr-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" aria-label="{escape(title)}" data-dataset="{escape(dataset.name)}" '
             f'data-points="{len(points)}"><title>{escape(title)}</title>',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fcfcfc" stroke="#ccc"/>']
    tick = -1.0
    while tick <= y_hi:
        if tick >= y_lo:
            parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick)}" y2="{y(tick)}" stroke="#eee"/>'
                         f'<text x="{LEFT - 6}" y="{y(tick) + 4}" text-anchor="end" font-size="11" '
                         f'fill="#444">{tick:.2f}</text>')
        tick = round(tick + 0.25, 2)
    for i in range(4):
        t = t_lo + (t_hi - t_lo) * i / 3
        parts.append(f'<text x="{x(t)}" y="{HEIGHT - 12}" text-anchor="middle" font-size="11" fill="#444">'
                     f'{escape(_fmt_time(t, t_hi - t_lo))}</text>')
    for b in dataset.baselines:
        colour = BASELINE_COLOURS.get(b.label, "#b8860b")
        parts.append(f'<line class="baseline" data-label="{escape(b.label)}" x1="{LEFT}" x2="{LEFT + plot_w}" '
                     f'y1="{y(b.pgr)}" y2="{y(b.pgr)}" stroke="{colour}" stroke-dasharray="5 4"/>'
                     f'<text x="{LEFT + 4}" y="{y(b.pgr) - 3}" font-size="10" fill="{colour}">'
                     f'{escape(b.label)} {b.pgr:.2f}</text>')
    by_agent: dict[str, list[Evaluation]] = {}
    for e in points:
        by_agent.setdefault(e.agent, []).append(e)
    for agent, series in sorted(by_agent.items()):
        colour = colours.get(agent, PALETTE[0])
        coords = " ".join(f"{x(e.time)},{y(e.public_pgr or 0)}" for e in series)
        parts.append(f'<g class="series" data-agent="{escape(agent)}"><polyline points="{coords}" fill="none" '
                     f'stroke="{colour}" stroke-width="1.5" stroke-opacity="0.6"/>')
        for e in series:
            label = f"{e.agent} · {e.method} · PGR {e.public_pgr:.2f} · {e.created_at[:19]}"
            parts.append(f'<circle class="point" cx="{x(e.time)}" cy="{y(e.public_pgr or 0)}" r="3.5" '
                         f'fill="{colour}" data-agent="{escape(e.agent)}" data-pgr="{e.public_pgr}" '
                         f'data-submission="{escape(e.id)}"><title>{escape(label)}</title></circle>')
        parts.append("</g>")
    if not points:
        parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" font-size="13" '
                     'fill="#888">no evaluations with a PGR yet</text>')
    legend_y = TOP + 8
    for i, agent in enumerate(sorted(by_agent)):
        ly = legend_y + 14 * i
        parts.append(f'<circle cx="{LEFT + plot_w + 10}" cy="{ly}" r="4" fill="{colours.get(agent, PALETTE[0])}"/>'
                     f'<text x="{LEFT + plot_w + 18}" y="{ly + 4}" font-size="11" fill="#222">{escape(agent)}</text>')
    parts.append("</svg>")
    return "".join(parts)
