from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from portal.models import AuditEvent, Person, User


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Access", {"fields": ("access_expires_on",)}))
    list_display = ("username", "email", "first_name", "last_name", "is_active", "access_expires_on")


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "title", "department", "parent", "active")
    list_filter = ("active", "department")
    search_fields = ("name", "email", "title", "department")
    raw_id_fields = ("parent", "user")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is written by services only."""

    list_display = ("sequence", "at", "actor_label", "action", "object_repr")
    list_filter = ("action",)
    search_fields = ("actor_label", "object_repr", "action")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
