"""Small inline SVG line charts (no plotting dependency): one polyline per series, labelled axes."""

from html import escape

WIDTH, HEIGHT, PAD = 480, 200, 36
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def line_chart(title: str, series: dict[str, list[float]], x_labels: list[str]) -> str:
    """`series` name -> y values aligned with `x_labels`; an empty chart says there is nothing to draw."""
    values = [v for ys in series.values() for v in ys if v == v]  # NaN marks "no value at this x"
    if not values or not x_labels:
        return f'<p class="empty">{escape(title)}: no data in this period.</p>'
    low, high = min(0.0, min(values)), max(values) or 1.0
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(x_labels) - 1, 1)

    def point(i: int, y: float) -> str:
        return f"{PAD + i * step:.1f},{HEIGHT - PAD - (y - low) / span * (HEIGHT - 2 * PAD):.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
             f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
             f'<text x="2" y="{PAD}" font-size="10">{high:.3g}</text>',
             f'<text x="2" y="{HEIGHT - PAD}" font-size="10">{low:.3g}</text>']
    for i, label in enumerate(x_labels):
        parts.append(f'<text x="{PAD + i * step:.1f}" y="{HEIGHT - 8}" font-size="9" '
                     f'text-anchor="middle">{escape(label)}</text>')
    for n, (name, ys) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = " ".join(point(i, y) for i, y in enumerate(ys) if y == y)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        parts += [f'<circle cx="{xy.split(",")[0]}" cy="{xy.split(",")[1]}" r="2.5" fill="{colour}"/>'
                  for xy in points.split()]
        parts.append(f'<text x="{WIDTH - PAD}" y="{PAD + 12 * n}" font-size="10" fill="{colour}" '
                     f'text-anchor="end">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
