"""What the base layout shows on every page: the navigation by role with the counts apps add to it, and the
inbox's unread count."""

from functools import cache

from django.urls import reverse

from portal.choices import ALL_ROLES, COMPLIANCE_ROLES, OVERSIGHT_ROLES
from portal.selectors import app_navigation_badges, notification_unread_count

# (label, url name, roles that see it, menu). Entries of one menu show under its name; the others stand alone.
# Later apps add their pages here.
NAVIGATION = [
    ("Dashboard", "dashboard", ALL_ROLES, None),
    ("People", "people:org_chart", ALL_ROLES, None),
    ("Inventory", "inventory:vm_list", ALL_ROLES, "Estate"),
    ("Sources", "inventory:source_list", ALL_ROLES, "Estate"),
    ("Deployment requests", "inventory:request_list", ALL_ROLES, "Estate"),
    ("Findings", "inventory:finding_list", ALL_ROLES, "Estate"),
    ("My questionnaires", "questionnaires:my", ALL_ROLES, "Questionnaires"),
    ("Follow-ups", "questionnaires:follow_ups", ALL_ROLES, "Questionnaires"),
    ("Campaigns", "questionnaires:campaign_list", OVERSIGHT_ROLES, "Questionnaires"),
    ("Frameworks and controls", "compliance:framework_list", COMPLIANCE_ROLES, "Compliance"),
    ("Evidence packs", "compliance:pack_list", OVERSIGHT_ROLES, "Compliance"),
    ("Audit trail", "audit:list", OVERSIGHT_ROLES, None),
    ("API", "api:docs", ALL_ROLES, None),
]


def navigation(request) -> dict:
    """The entries the user's roles see, grouped into menus; a menu is active, and counts, for its entries."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    badges = app_navigation_badges(user=user)
    entries = [
        {"label": label, "url": reverse(name), "active": request.path.startswith(reverse(name))
         if name != "dashboard" else request.path == reverse(name), "badge": badges.get(name), "menu": menu}
        for label, name, roles, menu in NAVIGATION
        if user.has_role(*roles)
    ]
    # Only the most specific entry is active: /questionnaires/campaigns/ is "Campaigns", not also "Questionnaires".
    longest = max((len(entry["url"]) for entry in entries if entry["active"]), default=0)
    items: list[dict] = []
    menus: dict[str, dict] = {}
    for entry in entries:
        entry["active"] = entry["active"] and len(entry["url"]) == longest
        if entry["menu"] is None:
            items.append(entry)
            continue
        if entry["menu"] not in menus:
            menus[entry["menu"]] = {"label": entry["menu"], "children": [], "active": False}
            items.append(menus[entry["menu"]])
        menu = menus[entry["menu"]]
        menu["children"].append(entry)
        menu["active"] = menu["active"] or entry["active"]
    for menu in menus.values():
        children = menu["children"]
        menu["badge"] = lambda children=children: sum((child["badge"] or 0) if not callable(child["badge"])
                                                      else child["badge"]() or 0 for child in children)
    return {"navigation": items}


def inbox(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A callable: the template calls it when it renders the badge, so fragments that do not show it cost no query.
    return {"inbox_unread": cache(lambda: notification_unread_count(user))}
