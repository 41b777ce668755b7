"""Charts as inline SVG, drawn on the server: no script, no font, no file to fetch."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

# Colours of the series, in order (colour-blind safe: Okabe–Ito).
PALETTE = ("#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7", "#56B4E9")
ROW_H, BAR_GAP, LABEL_W, CHART_W, LEGEND_H = 22, 6, 170, 640, 26


def bars(labels: list[str], series: list[tuple[str, list[int | float]]], *, title: str,
         stacked: bool = False) -> Markup:
    """Horizontal bars, one group per label: side by side, or stacked to one bar.

    `series` is (name, one value per label). Every bar carries its value as text and a
    <title>, so the figure reads without colour and in a screen reader.
    """
    n = len(series)
    per_label = 1 if stacked else n
    group_h = per_label * ROW_H + BAR_GAP
    height = LEGEND_H + max(1, len(labels)) * group_h + 4
    totals = [sum(s[1][i] for s in series) if stacked else max((s[1][i] for s in series),
                                                               default=0)
              for i in range(len(labels))]
    top = max([*totals, 1])
    scale = (CHART_W - LABEL_W - 60) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'width="{CHART_W}" height="{height}" viewBox="0 0 {CHART_W} {height}" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    x = LABEL_W
    for k, (name, _) in enumerate(series):  # the legend
        colour = PALETTE[k % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="16" class="legend">{escape(name)}</text>')
        x += 24 + 9 * len(name) + (8 * sum(ord(c) > 0x2E80 for c in name))
    for i, label in enumerate(labels):
        y0 = LEGEND_H + i * group_h
        parts.append(f'<text x="{LABEL_W - 6}" y="{y0 + ROW_H * per_label / 2 + 4}" '
                     f'text-anchor="end" class="label">{escape(label)}</text>')
        offset = float(LABEL_W)
        for k, (name, values) in enumerate(series):
            value = values[i]
            w = value * scale
            y = y0 if stacked else y0 + k * ROW_H
            colour = PALETTE[k % len(PALETTE)]
            bx = offset if stacked else LABEL_W
            parts.append(f'<rect x="{bx:.1f}" y="{y + 2}" width="{w:.1f}" height="{ROW_H - 4}"'
                         f' fill="{colour}"><title>{escape(label)} · {escape(name)}: '
                         f'{value}</title></rect>')
            if not stacked:
                parts.append(f'<text x="{LABEL_W + w + 4:.1f}" y="{y + ROW_H - 7}" '
                             f'class="value">{value}</text>')
            offset += w
        if stacked:
            parts.append(f'<text x="{offset + 4:.1f}" y="{y0 + ROW_H - 7}" class="value">'
                         + " / ".join(str(s[1][i]) for s in series) + "</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
