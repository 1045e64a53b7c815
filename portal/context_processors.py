"""What the base layout shows on every page: the navigation by role with the counts apps add to it, and the
inbox's unread count."""

from functools import cache

from django.urls import reverse

from portal.choices import ALL_ROLES, COMPLIANCE_ROLES, OVERSIGHT_ROLES
from portal.selectors import app_navigation_badges, notification_unread_count

# (label, url name, roles that see it). Later apps add their pages here.
NAVIGATION = [
    ("Dashboard", "dashboard", ALL_ROLES),
    ("People", "people:org_chart", ALL_ROLES),
    ("Inventory", "inventory:vm_list", ALL_ROLES),
    ("Sources", "inventory:source_list", ALL_ROLES),
    ("Findings", "inventory:finding_list", ALL_ROLES),
    ("Requests", "inventory:request_list", ALL_ROLES),
    ("Questionnaires", "questionnaires:my", ALL_ROLES),
    ("Follow-ups", "questionnaires:follow_ups", ALL_ROLES),
    ("Campaigns", "questionnaires:campaign_list", OVERSIGHT_ROLES),
    ("Compliance", "compliance:framework_list", COMPLIANCE_ROLES),
    ("Evidence", "compliance:pack_list", OVERSIGHT_ROLES),
    ("Audit trail", "audit:list", OVERSIGHT_ROLES),
    ("API", "api:docs", ALL_ROLES),
]


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    badges = app_navigation_badges(user=user)
    items = [
        {"label": label, "url": reverse(name), "active": request.path.startswith(reverse(name))
         if name != "dashboard" else request.path == reverse(name), "badge": badges.get(name)}
        for label, name, roles in NAVIGATION
        if user.has_role(*roles)
    ]
    # Only the most specific entry is active: /questionnaires/campaigns/ is "Campaigns", not also "Questionnaires".
    longest = max((len(item["url"]) for item in items if item["active"]), default=0)
    for item in items:
        item["active"] = item["active"] and len(item["url"]) == longest
    return {"navigation": items}


def inbox(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A callable: the template calls it when it renders the badge, so fragments that do not show it cost no query.
    return {"inbox_unread": cache(lambda: notification_unread_count(user))}
