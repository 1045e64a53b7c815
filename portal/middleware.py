"""Ends the session of a login whose access has expired (auditors' access ends on a date)."""

from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect


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
