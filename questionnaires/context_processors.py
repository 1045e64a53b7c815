"""The unread count of the portal inbox, for the navbar of every page (one query, only when a page shows it)."""

from functools import cache

from questionnaires.selectors import notification_unread_count


def inbox(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A callable: the template calls it when it renders the badge, so fragments that do not cost no query.
    return {"inbox_unread": cache(lambda: notification_unread_count(user))}
