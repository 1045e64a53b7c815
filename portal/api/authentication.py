"""Token and session authentication that refuse a login whose access has expired."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions


def _refuse_if_expired(user) -> None:
    if user.access_expired():
        raise exceptions.AuthenticationFailed(f"Access ended on {user.access_expires_on:%Y-%m-%d}.")


class ExpiringTokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        _refuse_if_expired(user)
        return user, token


class ExpiringSessionAuthentication(authentication.SessionAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            _refuse_if_expired(result[0])
        return result


class ExpiringSessionAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the session scheme in the OpenAPI schema like DRF's own."""

    target_class = ExpiringSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
