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
