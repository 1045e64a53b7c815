"""Charts of control evaluations, drawn on the server as SVG with pygal: the same text goes into a page (as a
``data:`` image, which the portal's CSP allows and which runs no script) and later into a PDF. Nothing is
fetched: pygal's scripts are left out, and its styles are inside the SVG."""

import base64
import re
from collections.abc import Sequence

import pygal
from pygal.style import Style

from compliance.choices import EvaluationStatus
from compliance.evaluators.specs import PERCENT, SPECS

# The portal's Bootstrap colours: the measured value, the threshold, and the status dots' meaning.
STYLE = Style(
    background="white", plot_background="white", foreground="#212529", foreground_strong="#212529",
    foreground_subtle="#6c757d", colors=("#0d6efd", "#dc3545"), font_family="system-ui, sans-serif",
    label_font_size=11, major_label_font_size=11, legend_font_size=12, title_font_size=14,
)
# pygal writes its settings for its tooltips script in a <script> even with no script to load: dropped, so the
# SVG holds no script at all (a PDF or an <img> would not run it anyway).
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
# One colour per framework on the dashboard's trend: estate, HIPAA, SOX, GLBA.
TREND_COLOURS = ("#6c757d", "#0d6efd", "#198754", "#fd7e14")
STATUS_WORDS = {status: label for status, label in EvaluationStatus.choices}


def evaluation_history_svg(evaluations: Sequence, *, metric: str, title: str = "", width: int = 720,
                           height: int = 260) -> str:
    """A line of the evaluations' values over time (oldest first whatever the order given) with the threshold
    they were judged against; an evaluation without a value leaves a gap. Returns the SVG document as text."""
    spec = SPECS[metric]
    points = sorted(evaluations, key=lambda evaluation: (evaluation.evaluated_at, evaluation.pk or 0))
    chart = pygal.DateTimeLine(
        width=width, height=height, style=STYLE, js=[], disable_xml_declaration=True, show_dots=len(points) < 60,
        x_label_rotation=0, truncate_label=-1, legend_at_bottom=True, legend_at_bottom_columns=2,
        x_value_formatter=lambda moment: moment.strftime("%d %b"), allow_interruptions=True,
        title=title or None, show_x_guides=False, margin=12, print_values=False,
        no_data_text="Not evaluated yet",
        range=(0, 100) if spec.unit == PERCENT else None, include_x_axis=spec.unit != PERCENT,
        value_formatter=(lambda value: f"{value:g} %") if spec.unit == PERCENT else (lambda value: f"{value:g}"),
    )
    chart.add("Measured", [
        {"value": (p.evaluated_at, float(p.value) if p.value is not None else None),
         "label": STATUS_WORDS.get(p.status, p.status)}
        for p in points
    ])
    chart.add("Threshold", [(p.evaluated_at, float(p.threshold)) for p in points if p.threshold is not None],
              show_dots=False, stroke_style={"width": 1.5, "dasharray": "6, 4"})
    return SCRIPT.sub("", chart.render(is_unicode=True))


def svg_data_uri(svg: str) -> str:
    """An SVG as a ``data:`` URI for an ``<img>``: its styles apply inside it, and no script of it runs."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def trend_svg(series: dict[str, list[tuple]], *, title: str = "", width: int = 720, height: int = 280) -> str:
    """Lines of percentages over time, one per label (``[(moment, percent or None), ...]``, any order)."""
    chart = pygal.DateTimeLine(
        width=width, height=height, style=Style(**{**STYLE.to_dict(), "colors": TREND_COLOURS}), js=[],
        disable_xml_declaration=True, x_label_rotation=0, truncate_label=-1, legend_at_bottom=True,
        legend_at_bottom_columns=len(series) or 1, x_value_formatter=lambda moment: moment.strftime("%d %b"),
        allow_interruptions=True, title=title or None, show_x_guides=False, margin=12, range=(0, 100),
        value_formatter=lambda value: f"{value:g} %", no_data_text="Not evaluated yet",
        show_dots=max((len(points) for points in series.values()), default=0) < 60,
    )
    for label, points in series.items():
        chart.add(label, sorted(((moment, value) for moment, value in points), key=lambda point: point[0]))
    return SCRIPT.sub("", chart.render(is_unicode=True))


# Colours of an evaluation's dot on the printed chart, by status.
STATUS_COLOURS = {EvaluationStatus.EFFECTIVE: "#198754", EvaluationStatus.DEFICIENT: "#dc3545",
                  EvaluationStatus.NOT_EVALUATED: "#6c757d"}


def evaluation_print_svg(evaluations: Sequence, *, metric: str, width: int = 680, height: int = 110) -> str:
    """The evaluations' values over time as a plain SVG for a PDF: a line, the threshold dashed, a dot per
    evaluation coloured by status. A few dozen elements and no stylesheet, where pygal's chart carries a
    stylesheet and hundreds of elements that WeasyPrint lays out slowly (a pack prints a hundred of them)."""
    spec = SPECS[metric]
    points = sorted(evaluations, key=lambda evaluation: (evaluation.evaluated_at, evaluation.pk or 0))
    values = [float(p.value) for p in points if p.value is not None]
    thresholds = [float(p.threshold) for p in points if p.threshold is not None]
    top = 100.0 if spec.unit == PERCENT else max([*values, *thresholds, 1.0]) * 1.1
    left, right, upper, lower = 44, width - 8, 8, height - 18
    first, last = (points[0].evaluated_at, points[-1].evaluated_at) if points else (None, None)
    span = (last - first).total_seconds() if points and last > first else 1.0

    def x(point) -> float:
        return left + (right - left) * ((point.evaluated_at - first).total_seconds() / span if len(points) > 1 else 1)

    def y(value: float) -> float:
        return lower - (lower - upper) * (value / top if top else 0)

    unit = " %" if spec.unit == PERCENT else ""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, sans-serif" font-size="9">',
             f'<rect x="{left}" y="{upper}" width="{right - left}" height="{lower - upper}" fill="#f8f9fa" '
             'stroke="#ced4da" stroke-width="0.5"/>',
             f'<text x="{left - 4}" y="{upper + 8}" text-anchor="end">{top:g}{unit}</text>',
             f'<text x="{left - 4}" y="{lower}" text-anchor="end">0{unit}</text>']
    if thresholds:
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y(thresholds[-1]):.1f}" y2="{y(thresholds[-1]):.1f}" '
                     'stroke="#dc3545" stroke-width="1" stroke-dasharray="5,3"/>')
    line = " ".join(f"{x(p):.1f},{y(float(p.value)):.1f}" for p in points if p.value is not None)
    if line:
        parts.append(f'<polyline points="{line}" fill="none" stroke="#0d6efd" stroke-width="1.5"/>')
    for p in points:
        if p.value is not None:
            parts.append(f'<circle cx="{x(p):.1f}" cy="{y(float(p.value)):.1f}" r="2.2" '
                         f'fill="{STATUS_COLOURS.get(p.status, "#6c757d")}"/>')
    if points:
        parts.append(f'<text x="{left}" y="{height - 4}">{first:%Y-%m-%d}</text>')
        parts.append(f'<text x="{right}" y="{height - 4}" text-anchor="end">{last:%Y-%m-%d}</text>')
    if not values:
        parts.append(f'<text x="{(left + right) / 2}" y="{(upper + lower) / 2}" text-anchor="middle" '
                     'fill="#6c757d">No measured value in the period</text>')
    parts.append("</svg>")
    return "".join(parts)
