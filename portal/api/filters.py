"""The API's filter backend: django-filter's, refusing query parameters it does not know.

A misspelt or guessed filter (``?search=`` where the parameter is ``q``) used to be ignored, and the client got
every row as if it had asked for them; now it gets a 400 naming the parameters that endpoint understands.
"""

from django.forms.widgets import MultiWidget
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions

# Parameters every endpoint understands besides its filters: DRF's format override.
ALWAYS_VALID = ("format",)
# What clients of other APIs commonly send, and the parameter that does it here.
ALIASES = {"search": "q", "query": "q", "sort": "ordering", "order_by": "ordering", "limit": "page_size"}


def _filter_parameters(filterset_class) -> list[str]:
    """The query parameters of a filterset, as its form reads them (a range filter reads two)."""
    names: list[str] = []
    for name, filter_ in filterset_class.base_filters.items():
        widget = filter_.field.widget
        if isinstance(widget, MultiWidget):
            suffixes = getattr(widget, "suffixes", None) or [str(index) for index in range(len(widget.widgets))]
            names.extend(f"{name}_{suffix}" if suffix else name for suffix in suffixes)
        else:
            names.append(name)
    return names


class StrictFilterBackend(DjangoFilterBackend):
    """Filters as django-filter does, after refusing unknown query parameters (400, naming the valid ones)."""

    def valid_parameters(self, request, queryset, view) -> list[str]:
        names = list(ALWAYS_VALID)
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            names.extend(_filter_parameters(filterset_class))
        paginator = getattr(view, "paginator", None)
        if paginator is not None:
            names.extend(
                value for value in (getattr(paginator, "page_query_param", None),
                                    getattr(paginator, "page_size_query_param", None)) if value
            )
        return names

    def filter_queryset(self, request, queryset, view):
        valid = self.valid_parameters(request, queryset, view)
        unknown = [name for name in request.query_params if name not in valid]
        if unknown:
            listed = ", ".join(sorted(set(valid) - set(ALWAYS_VALID))) or "none"
            raise exceptions.ValidationError({
                name: ["Not a query parameter of this endpoint"
                       + (f" (did you mean {ALIASES[name]!r}?)" if ALIASES.get(name) in valid else "")
                       + f". Valid: {listed}."]
                for name in unknown
            })
        return super().filter_queryset(request, queryset, view)
