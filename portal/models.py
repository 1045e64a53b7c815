"""People, logins and the audit trail."""

import datetime

from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from tree_queries.fields import TreeNodeForeignKey
from tree_queries.models import TreeNode

from portal.choices import NotificationKind, Role


class User(AbstractUser):
    """A login to the portal. Roles are the user's groups; an auditor's access ends on a date."""

    access_expires_on = models.DateField(
        null=True,
        blank=True,
        help_text="Last day this login may be used (required for auditors). Empty means no expiry.",
    )

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def roles(self) -> frozenset[str]:
        """The user's roles, cached on the instance for the request."""
        if not hasattr(self, "_roles_cache"):
            names = set(self.groups.values_list("name", flat=True))
            if self.is_superuser:
                names.add(Role.ADMIN)
            self._roles_cache = frozenset(names & set(Role.values))
        return self._roles_cache

    @property
    def role_labels(self) -> list[str]:
        return [Role(role).label for role in sorted(self.roles)]

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    def access_expired(self, today: datetime.date | None = None) -> bool:
        if self.access_expires_on is None:
            return False
        return (today or datetime.date.today()) > self.access_expires_on


class Person(TreeNode):
    """Somebody in the organisation. ``parent`` is the person's manager: the tree is the chain of command.

    People are deactivated, never deleted, so their answers and approvals keep an author.
    """

    parent = TreeNodeForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reports",
        verbose_name="manager",
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, unique=True, help_text="Stored in lower case; the key of re-imports.")
    title = models.CharField(max_length=200, blank=True)
    department = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    user = models.OneToOneField(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="person"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "people"
        indexes = [models.Index(Lower("name"), name="person_name_lower_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="person_email_lower_case"),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")), name="person_not_own_manager"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class AuditEvent(models.Model):
    """One entry of the append-only audit trail.

    ``sequence`` has no gaps and each row stores the SHA-256 of its own content
    and of the previous row's hash, so an edited, inserted or removed row breaks
    the chain (``manage.py verify_audit``). On PostgreSQL a trigger also refuses
    UPDATE and DELETE on this table.
    """

    sequence = models.PositiveBigIntegerField(unique=True, editable=False)
    at = models.DateTimeField(editable=False, db_index=True)
    actor = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    actor_label = models.CharField(max_length=200, help_text="Who acted, as shown at the time (user or system).")
    action = models.CharField(max_length=100, db_index=True, help_text="Dotted verb, e.g. people.imported.")
    object_type = models.CharField(max_length=100, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-sequence"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_repr}"


class Notification(models.Model):
    """A message to a person, shown in the portal inbox and sent by e-mail; every app writes them.

    ``about`` is what the message concerns (an assignment, a finding, a deployment request...).
    ``dedupe_key`` is unique: a reminder or escalation is sent once even when the task runs twice or
    on two workers at once. Rows of one person that share a ``digest`` subject are e-mailed together as
    one message (the findings of one policy run), while the inbox keeps one row each.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    link = models.CharField(max_length=500, blank=True, help_text="Portal path of what it is about.")
    about_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    about_id = models.PositiveBigIntegerField(null=True, blank=True)
    about = GenericForeignKey("about_type", "about_id")
    digest = models.CharField(
        max_length=300, blank=True, help_text="Subject of the one e-mail that carries this row with its siblings."
    )
    dedupe_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["person", "-created_at"], name="inbox_person_idx"),
            models.Index(fields=["emailed_at"], condition=Q(emailed_at__isnull=True), name="inbox_unsent_idx"),
            models.Index(fields=["about_type", "about_id"], name="notification_about_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.person.name}: {self.subject}"
class AuditAnchor(models.Model):
    """A checkpoint of the audit trail: the sequence and hash of its last event at a moment.

    The hash chain shows an edited or removed row, but a trail cut short at its end, or emptied, is still a
    valid chain. ``verify_audit`` checks the trail against every anchor it knows and one given on its command
    line; since this table can be emptied with the trail, each anchor is also printed (command output, log)
    to be kept outside the database. On PostgreSQL this table is append-only like the trail.
    """

    sequence = models.PositiveBigIntegerField(help_text="The last event of the trail when the anchor was taken.")
    hash = models.CharField(max_length=64, help_text="That event's hash.")
    created_at = models.DateTimeField(editable=False, db_index=True)
    created_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_anchors"
    )
    created_by_label = models.CharField(max_length=200, help_text="Who took it (user or system job).")

    class Meta:
        ordering = ["-sequence", "-id"]

    def __str__(self) -> str:
        return f"anchor {self.text} taken {self.created_at:%Y-%m-%d %H:%M:%S} by {self.created_by_label}"

    @property
    def text(self) -> str:
        """``SEQUENCE:HASH``, the form ``verify_audit --anchor`` takes back."""
        return f"{self.sequence}:{self.hash}"
