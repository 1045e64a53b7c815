from rest_framework import exceptions, pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """Pages of 100 by default; clients may ask for up to 1,000 with ``page_size`` (more is cut to 1,000).

    A ``page_size`` that is not a whole number of at least 1 is refused (400), not silently replaced by the
    default: a client that asked for something else learns it at once.
    """

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        if not raw.isdigit() or int(raw) < 1:
            raise exceptions.ValidationError({self.page_size_query_param: [f"{raw!r} is not a whole number from 1."]})
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = (
                    f"Results per page: {self.page_size} by default, at most {self.max_page_size}."
                )
            elif parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
