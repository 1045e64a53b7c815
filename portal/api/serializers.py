from rest_framework import serializers

from portal.models import AuditEvent, Person


class PersonSerializer(serializers.ModelSerializer):
    manager = serializers.PrimaryKeyRelatedField(source="parent", read_only=True, allow_null=True)
    manager_email = serializers.EmailField(source="parent.email", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Person
        fields = ["id", "name", "email", "title", "department", "active", "manager", "manager_email"]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "sequence", "at", "actor_label", "action", "object_type", "object_id", "object_repr",
            "details", "previous_hash", "hash",
        ]
