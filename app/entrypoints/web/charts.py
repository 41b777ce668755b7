"""Charts as inline SVG, drawn on the server: no script, no font, no file to fetch."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

# Colours of the series, in order (colour-blind safe: Okabe–Ito).
PALETTE = ("#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7", "#56B4E9")
ROW_H, BAR_GAP, LABEL_W, CHART_W, LEGEND_H = 22, 6, 170, 640, 26
# The labels' column grows with its longest line up to LABEL_MAX; a longer label wraps onto
# lines of its own (an English agency's name), so that no name is cut off at the left edge.
LABEL_MAX, LINE_H, FONT_PX = 240, 14, 12


def text_width(text: str) -> float:
    """The width of `text` at 12 px, near enough: a CJK character is a full em, a capital or
    a wide letter about two thirds of one, other ASCII about half."""
    return sum(FONT_PX if ord(c) > 0x2E80 else 8.2 if c.isupper() or c in "mwMW" else 6.2
               for c in text)


def wrap(text: str, width: float) -> list[str]:
    """`text` on lines no wider than `width`: at spaces, or between CJK characters."""
    if text_width(text) <= width:
        return [text]
    words = text.split(" ") if " " in text else list(text)
    glue = " " if " " in text else ""
    lines: list[str] = []
    for word in words:
        candidate = f"{lines[-1]}{glue}{word}" if lines else word
        if lines and text_width(candidate) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def bars(labels: list[str], series: list[tuple[str, list[int | float]]], *, title: str,
         stacked: bool = False) -> Markup:
    """Horizontal bars, one group per label: side by side, or stacked to one bar.

    `series` is (name, one value per label). Every bar carries its value as text and a
    <title>, so the figure reads without colour and in a screen reader.
    """
    n = len(series)
    per_label = 1 if stacked else n
    label_w = min(LABEL_MAX, max([LABEL_W - 12, *(text_width(x) for x in labels)])) + 12
    lines = [wrap(x, label_w - 12) for x in labels]
    group_hs = [max(per_label * ROW_H, len(ls) * LINE_H + 6) + BAR_GAP for ls in lines]
    tops = [LEGEND_H + sum(group_hs[:i]) for i in range(len(labels))]
    height = LEGEND_H + (sum(group_hs) if labels else per_label * ROW_H + BAR_GAP) + 4
    chart_w = CHART_W - LABEL_W + label_w
    totals = [sum(s[1][i] for s in series) if stacked else max((s[1][i] for s in series),
                                                               default=0)
              for i in range(len(labels))]
    top = max([*totals, 1])
    scale = (chart_w - label_w - 60) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'width="{chart_w:.0f}" height="{height}" viewBox="0 0 {chart_w:.0f} {height}" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    x = label_w
    for k, (name, _) in enumerate(series):  # the legend
        colour = PALETTE[k % len(PALETTE)]
        parts.append(f'<rect x="{x:.0f}" y="6" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16:.0f}" y="16" class="legend">{escape(name)}</text>')
        x += 24 + 9 * len(name) + (8 * sum(ord(c) > 0x2E80 for c in name))
    for i, label in enumerate(labels):
        y0 = tops[i]
        first = y0 + (group_hs[i] - BAR_GAP) / 2 + 4 - (len(lines[i]) - 1) * LINE_H / 2
        parts.append(f'<text x="{label_w - 6:.0f}" y="{first:.0f}" text-anchor="end" '
                     f'class="label">' + "".join(
                         f'<tspan x="{label_w - 6:.0f}" dy="{0 if k == 0 else LINE_H}">'
                         f'{escape(line)}</tspan>' for k, line in enumerate(lines[i]))
                     + "</text>")
        offset = float(label_w)
        yb = y0 + (group_hs[i] - BAR_GAP - per_label * ROW_H) / 2  # the bars, centred too
        for k, (name, values) in enumerate(series):
            value = values[i]
            w = value * scale
            y = yb if stacked else yb + k * ROW_H
            colour = PALETTE[k % len(PALETTE)]
            bx = offset if stacked else label_w
            parts.append(f'<rect x="{bx:.1f}" y="{y + 2:.0f}" width="{w:.1f}" height="{ROW_H - 4}"'
                         f' fill="{colour}"><title>{escape(label)} · {escape(name)}: '
                         f'{value}</title></rect>')
            if not stacked:
                parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + ROW_H - 7:.0f}" '
                             f'class="value">{value}</text>')
            offset += w
        if stacked:
            parts.append(f'<text x="{offset + 4:.1f}" y="{yb + ROW_H - 7:.0f}" class="value">'
                         + " / ".join(str(s[1][i]) for s in series) + "</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
