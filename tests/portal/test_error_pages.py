"""The error pages a person meets: a server error is the portal's own page, not Django's bare text."""

from django.test import Client
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def _fails(request):
    raise RuntimeError("a bug")


urlpatterns = [path("fails/", _fails), *portal_urlpatterns]


def test_a_server_error_shows_the_portals_page(db, settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False

    response = Client(raise_request_exception=False).get("/fails/")

    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page and "Back to your dashboard" in page
