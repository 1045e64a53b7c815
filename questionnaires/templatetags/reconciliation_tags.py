"""Template filters of the reconciliation pages and panels."""

from django import template

from questionnaires.views.reconciliation import STATE_COLOURS

register = template.Library()


@register.filter
def state_colour(state: str) -> str:
    """``{{ item.state|state_colour }}``: the Bootstrap colour of a reconciliation state, as every page shows it."""
    return STATE_COLOURS.get(state, "secondary")
