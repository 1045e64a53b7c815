"""Middleware of the portal: ends the session of a login whose access has expired (auditors' access ends on a
date); refuses requests carrying NUL characters."""

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render


class AccessExpiryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.access_expired():
            expired_on = user.access_expires_on
            logout(request)
            message = f"Your access to vmcensus ended on {expired_on:%d %B %Y}. Ask a compliance officer to extend it."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=403)
            messages.error(request, message)
            return redirect("login")
        return self.get_response(request)


NUL = "\x00"
NUL_PROBLEM = "contains a NUL character (\\x00), which cannot be stored: remove it"
JSON_CONTENT_TYPES = ("application/json",)


def _shown(text: str) -> str:
    return text.replace(NUL, "\\x00")


def _nul_in_json(value: Any) -> str | None:
    """Where the first NUL of a parsed JSON document is (``rows[1].name``), walking it without recursion."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return path
        elif isinstance(item, dict):
            for key, inner in reversed(list(item.items())):
                inner_path = f"{path}.{_shown(key)}" if path else _shown(key)
                if NUL in key:
                    return inner_path
                stack.append((inner_path, inner))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", inner) for index, inner in reversed(list(enumerate(item))))
    return None


def _nul_location(request: HttpRequest) -> str | None:
    """Where a NUL character is in the request, for a person to read; None when there is none."""
    for key, values in request.GET.lists():
        if NUL in key or any(NUL in value for value in values):
            return f"the query parameter '{_shown(key)}'"
    # The API reads JSON only: leave a form body unread there, for its parser to refuse (415).
    if request.method == "POST" and not request.path.startswith("/api/"):
        for key, values in request.POST.lists():
            if NUL in key or any(NUL in value for value in values):
                return f"the form field '{_shown(key)}'"
    if request.content_type in JSON_CONTENT_TYPES and request.body:
        try:
            document = json.loads(request.body)
        except (ValueError, RecursionError):
            return None  # not JSON: the API's parser says so
        path = _nul_in_json(document)
        if path is not None:
            return f"the JSON body at {path}" if path else "the JSON body"
    return None


class RefuseBadInputMiddleware:
    """Answers 400 to a request the portal cannot take, saying why: a NUL character in its query, form fields
    or JSON body (Django already drops unprintable characters from uploaded file names), a body over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` or too many fields.

    PostgreSQL cannot store NUL, and no person types one: refusing it here, once, keeps every page and endpoint
    from failing with a 500 when it reaches the database. The API gets JSON, pages the portal's error page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            location = _nul_location(request)
        except RequestDataTooBig:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return _refusal(request, f"The request was refused: its body is over {limit:,} bytes.")
        except (TooManyFieldsSent, TooManyFilesSent):
            return _refusal(request, "The request was refused: it has too many fields or files.")
        if location is None:
            return self.get_response(request)
        return _refusal(request, f"The request was refused: {location} {NUL_PROBLEM}.")


def _refusal(request: HttpRequest, message: str):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=400)
    return render(request, "request_refused.html", {"message": message}, status=400)
