"""Read queries on people, the inbox and the audit trail, shared by pages, the API and later evidence."""

import datetime
import importlib
import importlib.util
from collections.abc import Callable

from django.apps import apps
from django.db.models import Q, QuerySet
from django.utils import timezone

from portal.choices import OVERSIGHT_ROLES
from portal.models import AuditAnchor, AuditEvent, Notification, Person, User
from portal.trees import children_map, descendant_counts, subtree


def person_list(*, active_only: bool = True) -> QuerySet[Person]:
    people = Person.objects.select_related("parent")
    return people.filter(active=True) if active_only else people


def person_subtree(*, person: Person | int, include_self: bool = True) -> QuerySet[Person]:
    """Everybody under ``person`` in the chain of command, in one recursive query."""
    return Person.objects.descendants(person, include_self=include_self)


def person_subtree_ids(*, person: Person | int) -> list[int]:
    """The ids of ``person`` and everybody below them, from one plain query of the chart walked in memory: when only
    the ids are needed, a few milliseconds for 5,000 people where the recursive query takes tens."""
    root = getattr(person, "pk", person)
    return subtree(children_map(Person.objects.order_by().values_list("id", "parent_id")), root)


def person_chain_up(*, person: Person) -> QuerySet[Person]:
    """The person's managers from the top of the organisation down to their direct manager."""
    return Person.objects.ancestors(person).with_tree_fields()


def person_reports(*, person: Person) -> QuerySet[Person]:
    return Person.objects.filter(parent=person, active=True).order_by("name")


def person_roots() -> QuerySet[Person]:
    return Person.objects.filter(parent__isnull=True, active=True).order_by("name")


def person_matches_with_chain(*, people: QuerySet[Person], limit: int) -> list[tuple[Person, list[str]]]:
    """The first ``limit`` of ``people``, each with the names of their managers from the top down; two queries."""
    matches = list(people.with_tree_fields()[:limit])
    names = dict(
        Person.objects.filter(pk__in={pk for match in matches for pk in match.tree_path}).values_list("pk", "name")
    )
    return [(match, [names[pk] for pk in match.tree_path[:-1]]) for match in matches]


def person_headcounts() -> dict[int, int]:
    """Active people below each person (not counting the person), from one query of the whole tree."""
    parent_of = dict(Person.objects.filter(active=True).values_list("id", "parent_id"))
    children = children_map(parent_of.items())
    # Roots: the top of the organisation, and anybody whose manager is inactive.
    roots = [person_id for person_id, parent_id in parent_of.items() if parent_id is None or parent_id not in parent_of]
    return descendant_counts(children, roots)


def person_text_q(text: str) -> Q:
    """People whose name, e-mail, title or department contains every word of ``text`` (any case)."""
    condition = Q()
    for word in text.split():
        condition &= (
            Q(name__icontains=word) | Q(email__icontains=word) | Q(title__icontains=word)
            | Q(department__icontains=word)
        )
    return condition


# People offered by a person search (campaign scope, area mappings): enough to find one by name or e-mail.
PERSON_SEARCH_LIMIT = 20


def person_search(*, text: str, limit: int = PERSON_SEARCH_LIMIT) -> list[Person]:
    """Active people whose name, e-mail, title or department contains every word of ``text``."""
    if not text.strip():
        return []
    return list(person_list().filter(person_text_q(text)).order_by("name")[:limit])


def person_for_user(*, user: User) -> Person | None:
    return Person.objects.filter(user=user).first()


def notifications_for_user(user: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's inbox, newest first."""
    notifications = Notification.objects.filter(person__user=user)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")


def notification_unread_count(user: User) -> int:
    return Notification.objects.filter(person__user=user, read_at__isnull=True).count()


def audit_event_list() -> QuerySet[AuditEvent]:
    """The trail, newest first, with what a list of events shows."""
    return AuditEvent.objects.select_related("actor").order_by("-sequence")


def audit_anchor_latest() -> AuditAnchor | None:
    """The newest checkpoint of the trail (evidence packs record it too)."""
    return AuditAnchor.objects.select_related("created_by").order_by("-sequence", "-id").first()


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())


def dashboard_figures(*, user: User) -> dict:
    """The numbers each role's dashboard shows; every figure is a query, none is stored."""
    people = Person.objects.filter(active=True)
    figures: dict = {
        "people": people.count(),
        "managers": people.filter(reports__active=True).distinct().count(),
        "departments": people.exclude(department="").values("department").distinct().count(),
    }
    person = person_for_user(user=user)
    if person is not None:
        figures["person"] = person
        figures["my_reports"] = person_reports(person=person).count()
        figures["my_subtree"] = person_subtree(person=person, include_self=False).filter(active=True).count()
    if user.has_role(*OVERSIGHT_ROLES):
        week_ago = timezone.now() - datetime.timedelta(days=7)
        figures["audit_events_week"] = AuditEvent.objects.filter(at__gte=week_ago).count()
        figures["recent_events"] = list(audit_event_list()[:8])
    if user.access_expires_on:
        figures["access_expires_on"] = user.access_expires_on
        figures["access_days_left"] = (user.access_expires_on - timezone.localdate()).days
    return figures


def app_providers(name: str) -> list:
    """The function ``name`` of each app's ``selectors`` module that has one, in app order.

    The portal app cannot import the apps built on it, nor may ``inventory`` import ``questionnaires``; they ask
    each app instead: ``dashboard_cards``, ``vm_panels``, ``navigation_badges``.
    """
    providers = []
    for app_config in apps.get_app_configs():
        if app_config.name == "portal" or importlib.util.find_spec(app_config.name) is None:
            continue
        if importlib.util.find_spec(f"{app_config.name}.selectors") is None:
            continue
        provider = getattr(importlib.import_module(f"{app_config.name}.selectors"), name, None)
        if provider is not None:
            providers.append(provider)
    return providers


def app_dashboard_cards(*, user: User) -> list[dict]:
    """Cards other apps add to the dashboard: each app's ``selectors.dashboard_cards(user=...)``, in app order."""
    cards: list[dict] = []
    for provider in app_providers("dashboard_cards"):
        cards += provider(user=user)
    # Cards that ask the person to act ("priority": 0) come before figures to read.
    return sorted(cards, key=lambda card: card.get("priority", 1))


def app_vm_panels(*, vm, user: User) -> list[dict]:
    """Panels other apps add to a VM's page: each app's ``selectors.vm_panels(vm=..., user=...)``, in app order.

    A panel is ``{"title": ..., "template": ..., **context}``: the page includes ``template`` with ``panel`` set
    to it, so the inventory shows what other apps know of a VM without importing them.
    """
    panels: list[dict] = []
    for provider in app_providers("vm_panels"):
        panels += provider(vm=vm, user=user)
    return panels


def app_navigation_badges(*, user: User) -> dict[str, Callable[[], int]]:
    """Counts other apps show beside a navigation entry, by URL name: each app's
    ``selectors.navigation_badges(user=...)``. Each count is a callable, so a page that shows no navigation
    (an htmx fragment) runs no query for it."""
    badges: dict[str, Callable[[], int]] = {}
    for provider in app_providers("navigation_badges"):
        badges.update(provider(user=user))
    return badges
