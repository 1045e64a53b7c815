"""The Django admin reads people, logins and roles; what it may write goes through the audited services.

Roles (groups, superuser, staff, permissions, an auditor's end date) are read-only here: they change only
through ``user_grant_role`` / ``user_revoke_role`` (``manage.py grant_role`` / ``revoke_role`` and the person
page). The org chart is read-only too: it comes from ``manage.py import_people``.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from portal.models import AuditEvent, Person, User
from portal.services.people import person_link_login
from portal.services.users import USER_EDITABLE_FIELDS, user_create, user_update


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    """New logins and a login's name, e-mail and active flag, through ``user_create`` / ``user_update``.

    Passwords are set when the login is added, then by the person through the password-reset e-mail.
    """

    fieldsets = (
        (None, {"fields": ("username",)}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {
            "fields": ("is_active", "role_list", "access_expires_on", "is_staff", "is_superuser"),
            "description": "Roles change only with manage.py grant_role / revoke_role or on the person's page.",
        }),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("role_list", "access_expires_on", "is_staff", "is_superuser", "last_login", "date_joined")
    list_display = ("username", "email", "first_name", "last_name", "is_active", "access_expires_on")

    @admin.display(description="Roles")
    def role_list(self, user: User) -> str:
        return ", ".join(user.role_labels) or "—"

    def has_delete_permission(self, request, obj=None):
        return False  # logins are deactivated, never deleted: the audit trail points at them

    def save_model(self, request, obj, form, change):
        if not change:
            user_create(user=obj, created_by=request.user)
            return
        stored = User.objects.get(pk=obj.pk)
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in USER_EDITABLE_FIELDS}
        user_update(user=stored, changes=changes, updated_by=request.user)

    def user_change_password(self, request, id, form_url=""):
        raise PermissionDenied("Passwords are set by their owner through the password-reset e-mail.")


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    """Read-only but for the person's login, which ``person_link_login`` sets and audits."""

    list_display = ("name", "email", "title", "department", "parent", "active")
    list_filter = ("active", "department")
    search_fields = ("name", "email", "title", "department")
    fields = ("name", "email", "title", "department", "parent", "active", "user")
    readonly_fields = ("name", "email", "title", "department", "parent", "active")
    raw_id_fields = ("user",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if "user" in form.changed_data:
            person_link_login(person=Person.objects.get(pk=obj.pk), user=obj.user, linked_by=request.user)


admin.site.unregister(Group)


@admin.register(Group)
class RoleGroupAdmin(ReadOnlyAdmin):
    """Each role is a group of the same name; renaming one or giving it permissions would change who is what."""

    list_display = ("name", "member_count")

    @admin.display(description="Members")
    def member_count(self, group: Group) -> int:
        return group.user_set.count()


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class PortalTokenAdmin(TokenAdmin):
    """Tokens may be listed and deleted (revoked), not made: a token made for somebody else acts in their name."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the trail is written by services only."""

    list_display = ("sequence", "at", "actor_label", "action", "object_repr")
    list_filter = ("action",)
    search_fields = ("actor_label", "object_repr", "action")
