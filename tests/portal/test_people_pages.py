"""The dashboard, the org chart with its htmx branches and search, the person page, and the number
of queries each page needs as the organisation and the trail grow."""

import datetime
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.choices import Role
from portal.models import Person
from portal.services import audit as audit_service
from portal.services.audit import audit_log
from tests.factories import PersonFactory, UserFactory
from tests.page_reading import facts, links, read, rows

# --- the dashboard ----------------------------------------------------------------------------------------------


def _figure(html: str, name: str) -> str:
    start = html.index(f'data-figure="{name}">') + len(f'data-figure="{name}">')
    return html[start : html.index("<", start)]


def test_a_manager_linked_to_a_person_sees_their_area(org, role_users, client_for):
    # given the manager's login is Alice VP, who has two leads below her
    org["vp_a"].user = role_users[Role.MANAGER]
    org["vp_a"].save()
    PersonFactory(name="Gone Lead", email="gone@example.com", parent=org["vp_a"], active=False)

    # when she opens her dashboard
    response = client_for(Role.MANAGER).get("/")

    # then it counts the active people in her subtree and her direct reports
    html = response.content.decode()
    assert response.status_code == 200
    assert _figure(html, "my_subtree") == "2"
    assert "2 direct reports" in html
    assert f'href="/people/{org["vp_a"].pk}/">your place in the chart' in html
    assert _figure(html, "people") == "6"
    assert _figure(html, "managers") == "3"
    assert "across 1 department" in html
    assert 'data-figure="audit_events_week"' not in html


def test_a_manager_high_in_the_chart_counts_everybody_below(org, role_users, client_for):
    org["ceo"].user = role_users[Role.MANAGER]
    org["ceo"].save()

    figures = client_for(Role.MANAGER).get("/").context["figures"]

    assert (figures["my_subtree"], figures["my_reports"], figures["person"]) == (5, 2, org["ceo"])


def test_a_user_without_a_person_has_no_area_figure(org, client_for):
    response = client_for(Role.SECURITY_ADMIN).get("/")

    assert "my_subtree" not in response.context["figures"]
    assert 'data-figure="my_subtree"' not in response.content.decode()


def test_a_compliance_officer_sees_the_audit_events_of_the_last_seven_days(db, role_users, client_for, monkeypatch):
    # given three events this week and one from ten days ago
    with monkeypatch.context() as patch:
        old = timezone.now() - datetime.timedelta(days=10)
        patch.setattr(audit_service, "timezone", SimpleNamespace(now=lambda: old))
        audit_log(action="people.imported", actor_label="system: import_people")
    for action in ("role.granted", "role.granted", "scan.finished"):
        audit_log(action=action, actor=role_users[Role.ADMIN])

    # when the compliance officer opens the dashboard
    response = client_for(Role.COMPLIANCE_OFFICER).get("/")

    # then the figure counts this week's three and the recent activity lists all four, newest first
    html = response.content.decode()
    assert _figure(html, "audit_events_week") == "3"
    assert [event.sequence for event in response.context["figures"]["recent_events"]] == [4, 3, 2, 1]
    recent = rows(read(html).find("table"))
    assert [row[2] for row in recent] == ["scan.finished", "role.granted", "role.granted", "people.imported"]


def test_an_auditor_sees_the_days_left_of_their_access(db, role_users, client_for):
    ends = timezone.localdate() + datetime.timedelta(days=30)

    response = client_for(Role.AUDITOR).get("/")

    html = response.content.decode()
    assert response.context["figures"]["access_days_left"] == 30
    assert f"Your access ends on <strong>{ends.day} {ends:%B %Y}</strong>" in html
    assert "(30 days left)" in html
    assert "alert-info" in html
    assert _figure(html, "audit_events_week") == "0"


def test_an_auditor_with_days_left_under_a_week_is_warned(db, role_users, client_for):
    role_users[Role.AUDITOR].access_expires_on = timezone.localdate() + datetime.timedelta(days=1)
    role_users[Role.AUDITOR].save()

    html = client_for(Role.AUDITOR).get("/").content.decode()

    assert "(1 day left)" in html
    assert "alert-warning" in html


# --- the org chart ----------------------------------------------------------------------------------------------


def _badge(name: str, count: int) -> str:
    return f'<span class="badge text-bg-secondary count" title="People below {name}">{count}</span>'


def test_org_chart_lists_the_roots_with_the_number_of_people_below(org, client_for):
    # given a second root with nobody below, and an inactive person who does not count
    PersonFactory(name="Zed Solo", email="zed@example.com")
    PersonFactory(name="Gone Lead", email="gone@example.com", parent=org["vp_b"], active=False)
    PersonFactory(name="Old Root", email="old@example.com", active=False)

    response = client_for(Role.MANAGER).get("/people/")

    html = response.content.decode()
    assert response.status_code == 200
    assert [person.name for person in response.context["nodes"]] == ["Carol CEO", "Zed Solo"]
    assert _badge("Carol CEO", 5) in html
    assert f'hx-get="/people/{org["ceo"].pk}/reports/" hx-trigger="load"' in html
    assert 'title="People below Zed Solo"' not in html
    assert "Alice VP" not in html
    assert "Old Root" not in html


def test_reports_fragment_returns_the_direct_reports_with_their_counts(org, client_for):
    PersonFactory(name="Gone VP", email="gone@example.com", parent=org["ceo"], active=False)

    response = client_for(Role.AUDITOR).get(f"/people/{org['ceo'].pk}/reports/", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert [template.name for template in response.templates] == ["portal/_org_nodes.html"]
    assert "<html" not in html
    assert [person.name for person in response.context["nodes"]] == ["Alice VP", "Bob VP"]
    assert _badge("Alice VP", 2) in html
    assert _badge("Bob VP", 1) in html
    assert f'hx-get="/people/{org["vp_a"].pk}/reports/" hx-trigger="toggle from:closest details once"' in html
    assert "Ann Lead" not in html
    assert "Gone VP" not in html


def test_reports_fragment_of_a_leaf_says_nobody_reports(org, client_for):
    response = client_for(Role.MANAGER).get(f"/people/{org['lead_b1'].pk}/reports/")

    assert list(response.context["nodes"]) == []
    assert "Nobody reports here." in response.content.decode()


def test_reports_fragment_of_an_unknown_person_is_404(org, client_for):
    assert client_for(Role.MANAGER).get("/people/999999/reports/").status_code == 404


@pytest.fixture
def searchable_org(org):
    org["lead_b1"].title = "Storage Architect"
    org["lead_b1"].department = "Finance"
    org["lead_b1"].save()
    return org


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ann", [("Ann Lead", "Carol CEO › Alice VP")]),
        ("lead.b1@", [("Ben Lead", "Carol CEO › Bob VP")]),
        ("ARCHITECT", [("Ben Lead", "Carol CEO › Bob VP")]),
        ("finance", [("Ben Lead", "Carol CEO › Bob VP")]),
        ("vp", [("Alice VP", "Carol CEO"), ("Bob VP", "Carol CEO")]),
        ("carol", [("Carol CEO", "")]),
        ("lead engineer a", [("Abe Lead", "Carol CEO › Alice VP"), ("Ann Lead", "Carol CEO › Alice VP")]),
        ("nobody", []),
    ],
)
def test_org_chart_search_finds_people_and_shows_their_chain(searchable_org, client_for, query, expected):
    response = client_for(Role.MANAGER).get("/people/", {"q": query})

    assert response.status_code == 200
    found = [(person.name, " › ".join(chain)) for person, chain in response.context["matches"]]
    assert found == expected
    html = response.content.decode()
    if expected:
        shown = rows(read(html).find("table"))
        assert [(row[0].split(" ")[0:2], row[3]) for row in shown] == [
            (name.split(" "), chain) for name, chain in expected
        ]
    else:
        assert "Nobody matches." in html


def test_org_chart_search_leaves_out_inactive_people(org, client_for):
    PersonFactory(name="Ann Gone", email="ann.gone@example.com", parent=org["vp_a"], active=False)

    response = client_for(Role.MANAGER).get("/people/", {"q": "ann"})

    assert [person.name for person, _ in response.context["matches"]] == ["Ann Lead"]


def test_org_chart_search_shows_the_people_below_each_match(org, client_for):
    response = client_for(Role.MANAGER).get("/people/", {"q": "alice"})

    shown = rows(read(response.content.decode()).find("table"))
    assert [(row[0].split(" ")[0:2], row[4]) for row in shown] == [(["Alice", "VP"], "2")]


# --- the person page --------------------------------------------------------------------------------------------


def test_person_page_shows_the_chain_up_as_a_breadcrumb(org, client_for):
    lead = org["lead_a1"]

    response = client_for(Role.MANAGER).get(f"/people/{lead.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert [person.name for person in response.context["chain"]] == ["Carol CEO", "Alice VP"]
    breadcrumb = read(html).find("nav", aria_label="Chain of command")
    assert links(breadcrumb) == [
        ("Org chart", "/people/"),
        ("Carol CEO", f"/people/{org['ceo'].pk}/"),
        ("Alice VP", f"/people/{org['vp_a'].pk}/"),
    ]
    assert breadcrumb.text() == "Org chart Carol CEO Alice VP Ann Lead"
    assert list(response.context["reports"]) == []
    assert "Nobody reports to Ann Lead." in html
    assert _figure(html, "headcount") == "0"


def test_person_page_shows_the_direct_reports(org, client_for):
    PersonFactory(name="Gone Lead", email="gone@example.com", parent=org["vp_a"], active=False)

    response = client_for(Role.AUDITOR).get(f"/people/{org['vp_a'].pk}/")

    html = response.content.decode()
    assert [person.name for person in response.context["chain"]] == ["Carol CEO"]
    assert [person.name for person in response.context["reports"]] == ["Abe Lead", "Ann Lead"]
    assert "Direct reports (2)" in html
    assert _figure(html, "headcount") == "2"
    assert links(facts(read(html))["Manager"]) == [("Carol CEO", f"/people/{org['ceo'].pk}/")]
    assert "Gone Lead" not in html


def test_person_page_of_the_root_has_no_managers(org, client_for):
    response = client_for(Role.MANAGER).get(f"/people/{org['ceo'].pk}/")

    assert list(response.context["chain"]) == []
    assert "— (top of the organisation)" in response.content.decode()
    assert _figure(response.content.decode(), "headcount") == "5"


def test_person_page_of_an_inactive_person_still_opens(org, client_for):
    gone = PersonFactory(name="Gone Lead", email="gone@example.com", parent=org["vp_a"], active=False)

    response = client_for(Role.MANAGER).get(f"/people/{gone.pk}/")

    assert response.status_code == 200
    assert read(response.content.decode()).find("h1").text() == "Gone Lead inactive"


# --- queries do not grow with rows ------------------------------------------------------------------------------


def _build_org(size: int, prefix: str) -> dict[str, Person]:
    """About ``size`` people: a root with ``4 * size // 5`` leaf reports over a chain of ``size // 5`` managers.

    The root's reports, the deepest manager's chain and every page's rows all grow with ``size``.
    """
    root = PersonFactory(name=f"Root Boss {prefix}", email=f"{prefix}.root@example.com")
    manager = root
    for level in range(size // 5):
        for leaf in range(4):
            PersonFactory(
                name=f"Leaf {prefix} {level}-{leaf}", email=f"{prefix}.leaf.{level}.{leaf}@example.com", parent=root
            )
        manager = PersonFactory(
            name=f"Manager {prefix} {level}", email=f"{prefix}.manager.{level}@example.com", parent=manager
        )
    return {"root": root, "deepest": manager}


def _build_trail(size: int, prefix: str) -> None:
    for number in range(size):
        actor = UserFactory(username=f"{prefix}actor{number}")
        person = PersonFactory(name=f"Object {prefix} {number}", email=f"{prefix}.object.{number}@example.com")
        audit_log(action="person.updated", actor=actor, obj=person, details={"n": number})


PAGES = {
    "org chart": lambda people: "/people/",
    "org chart search": lambda people: "/people/?q=example",
    "person page of the root": lambda people: f"/people/{people['root'].pk}/",
    "person page deep down": lambda people: f"/people/{people['deepest'].pk}/",
    "reports fragment": lambda people: f"/people/{people['root'].pk}/reports/",
    "dashboard": lambda people: "/",
    "audit list": lambda people: "/audit/",
}


def _queries(client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), len(response.content)


@pytest.mark.parametrize("page", list(PAGES))
def test_page_queries_do_not_grow_with_people_or_events(db, role_users, client_for, page):
    # given a small organisation and trail, with the admin's login at its root
    client = client_for(Role.ADMIN)
    small = _build_org(5, "small")
    _build_trail(5, "small")
    small["root"].user = role_users[Role.ADMIN]
    small["root"].save()
    small_queries, small_size = _queries(client, PAGES[page](small))

    # when the organisation and trail are ten times larger
    Person.objects.update(user=None)
    big = _build_org(50, "big")
    _build_trail(50, "big")
    big["root"].user = role_users[Role.ADMIN]
    big["root"].save()
    big_queries, big_size = _queries(client, PAGES[page](big))

    # then the page shows more and needs the same number of queries
    assert big_size > small_size or page == "dashboard"
    assert big_queries == small_queries


# --- the person field of every form: search and what may be typed ---------------------------------------------


def test_the_person_search_offers_active_people_by_any_word_of_their_name_or_email(org, client_for):
    org["lead_a2"].active = False
    org["lead_a2"].save(update_fields=["active"])

    response = client_for(Role.COMPLIANCE_OFFICER).get("/people/search/", {"scope": "lead a"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="Ann Lead &lt;lead.a1@example.com&gt;"' in html
    assert "lead.a2@example.com" not in html  # inactive
    assert "vp.a@example.com" not in html


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Ann Lead <lead.a1@example.com>", "lead_a1"),
        ("LEAD.A1@example.com", "lead_a1"),
        ("  ann   lead ", "lead_a1"),
    ],
)
def test_a_person_is_picked_by_the_search_value_an_e_mail_or_a_full_name(org, typed, expected):
    from portal.forms import person_from_text

    assert person_from_text(typed) == org[expected]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("ada nakamura", "Nobody active is called 'ada nakamura': type part of a name or e-mail"),
        ("ada@example.com", "Nobody active has the e-mail 'ada@example.com'"),
        ("Ann Lead", "Several people are called 'Ann Lead' (ann.two@example.com, lead.a1@example.com)"),
    ],
)
def test_a_person_that_cannot_be_told_apart_is_refused_with_what_to_do(org, typed, message):
    from django import forms

    from portal.forms import person_from_text

    if "Several" in message:
        PersonFactory(name="Ann Lead", email="ann.two@example.com")

    with pytest.raises(forms.ValidationError) as refused:
        person_from_text(typed)

    assert message in refused.value.messages[0]
