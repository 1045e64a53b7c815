"""The reconciliation API: runs, items (filterable by campaign, state, person's part, VM, answer and routed
person), and the answers and routing of items, through the services the pages call.

What a caller reads is what the pages show them (``reconciliation_items_visible_to``: every item for the roles
that see the whole estate, the items of their part of the organisation for anybody else); an id the caller cannot
read is a 404, as if it did not exist. A service's refusal is a 403 and a bad answer a 400, both with the
service's words (the errors of every operation are documented by ``portal.api.schema``); a refused request
changes nothing. Auditors read and never write.
"""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory.models import VirtualMachine
from portal.choices import ALL_ROLES
from portal.models import Person
from questionnaires.api.views import _service_errors, _valid
from questionnaires.choices import DataCategory, MatchKey, ReconciliationTrigger, Resolution
from questionnaires.filters import MAX_ID, IdFilter, ReconciliationItemFilter
from questionnaires.models import ReconciliationItem, ReconciliationRun
from questionnaires.permissions import ANSWER_ROLES
from questionnaires.selectors import (
    reconciliation_items_page,
    reconciliation_items_visible_to,
    reconciliation_runs_visible_to,
)
from questionnaires.services.follow_ups import (
    BULK_MAX_ITEMS,
    NOTE_MAX_LENGTH,
    PURPOSE_MAX_LENGTH,
    follow_ups_answer,
    follow_ups_route,
)

# --- shapes -------------------------------------------------------------------------------------------------------


class ReconciliationRunSerializer(serializers.ModelSerializer):
    """One run: why it ran, who asked, the items per state at its end and how many it changed."""

    campaign_name = serializers.CharField(source="campaign.name", read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, default=None, allow_null=True,
        help_text="Who asked for the run (null for scans, submissions, closing and the command line).",
    )
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True,
                                   help_text="Items per state at the end of the run.")

    class Meta:
        model = ReconciliationRun
        fields = ["id", "campaign", "campaign_name", "trigger", "requested_by", "started_at", "finished_at",
                  "counts", "changed", "written_back"]
        read_only_fields = fields


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField(help_text="Why, in words.")


class ReconciliationItemSerializer(serializers.ModelSerializer):
    """One declared VM against the inventory, or one inventory VM nobody declared; who may close it, and how it
    was closed."""

    campaign_name = serializers.CharField(source="campaign.name", read_only=True)
    declared_vm_name = serializers.CharField(source="declared_vm.name", read_only=True, default=None, allow_null=True)
    declared_vm_row = serializers.IntegerField(source="declared_vm.row", read_only=True, default=None,
                                               allow_null=True)
    assignment = serializers.IntegerField(source="declared_vm.assignment_id", read_only=True, default=None,
                                          allow_null=True, help_text="The assignment the VM was declared in.")
    declarer_name = serializers.CharField(source="declarer.name", read_only=True, default=None, allow_null=True)
    vm_name = serializers.CharField(source="vm.name", read_only=True, default=None, allow_null=True)
    match_key = serializers.ChoiceField(choices=MatchKey.choices, allow_blank=True, read_only=True,
                                        help_text="How it matched; empty when it did not.")
    reasons = ReasonSerializer(many=True, read_only=True)
    candidates = serializers.ListField(child=serializers.IntegerField(), read_only=True,
                                       help_text="Ids of the VMs it might be, for a person to pick.")
    routed_to_name = serializers.CharField(source="routed_to.name", read_only=True, default=None, allow_null=True)
    resolution = serializers.ChoiceField(choices=Resolution.choices, allow_blank=True, read_only=True,
                                         help_text="How it was closed; empty while it waits for an answer.")
    resolved_by = serializers.CharField(source="resolved_by.username", read_only=True, default=None,
                                        allow_null=True)

    class Meta:
        model = ReconciliationItem
        fields = [
            "id", "campaign", "campaign_name", "key", "state", "declared_vm", "declared_vm_name", "declared_vm_row",
            "assignment", "declarer", "declarer_name", "vm", "vm_name", "match_key", "match_value", "reasons",
            "candidates", "routed_to", "routed_to_name", "resolution", "resolution_note", "resolved_by",
            "resolved_at", "linked_vm",
        ]
        read_only_fields = fields


class _ItemIdsField(serializers.ListField):
    child = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class ReconciliationAnswerSerializer(serializers.Serializer):
    """An answer to items: all of them are answered, or none (the first refusal is named)."""

    ids = _ItemIdsField(min_length=1, max_length=BULK_MAX_ITEMS, help_text="Ids of the items.")
    resolution = serializers.ChoiceField(
        choices=Resolution.choices,
        help_text="Undeclared: claimed, disowned. Not found: retired, not_scanned, linked. Conflict: accepted, "
        "linked. Mismatch: accepted.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)
    vm = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=MAX_ID,
        help_text="For linked: the id of the inventory VM the declaration is.",
    )
    purpose = serializers.CharField(required=False, allow_blank=True, default="", max_length=PURPOSE_MAX_LENGTH,
                                    help_text="For claimed (required): what the VM is for.")
    data_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=DataCategory.choices), required=False, default=list,
        help_text="For claimed: the data the VM handles.",
    )


class ReconciliationRouteSerializer(serializers.Serializer):
    ids = _ItemIdsField(min_length=1, max_length=BULK_MAX_ITEMS, help_text="Ids of the items.")
    to_person = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(),
        help_text="Id of the person who is to answer them: anybody active for a compliance officer, somebody of "
        "their own part of the organisation for anybody else.",
    )


class ReconciliationAnsweredSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Items answered, or sent on.")
    items = ReconciliationItemSerializer(many=True)


# --- filters ------------------------------------------------------------------------------------------------------


class ReconciliationRunFilter(django_filters.FilterSet):
    campaign = IdFilter(field_name="campaign_id", label="Campaign (id)")
    trigger = django_filters.ChoiceFilter(choices=ReconciliationTrigger.choices)

    class Meta:
        model = ReconciliationRun
        fields = ["campaign", "trigger"]


# --- endpoints ----------------------------------------------------------------------------------------------------


class ReconciliationRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Reconciliation runs of the campaigns the caller reads, newest first; ``?campaign=ID`` for one campaign."""

    allowed_roles = ALL_ROLES
    write_roles = frozenset()  # runs start after scans, submissions and closing, or from the campaign's page
    serializer_class = ReconciliationRunSerializer
    filterset_class = ReconciliationRunFilter
    queryset = ReconciliationRun.objects.none()  # for the schema; each request reads get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ReconciliationRun.objects.none()
        return reconciliation_runs_visible_to(self.request.user)


class ReconciliationItemViewSet(viewsets.ReadOnlyModelViewSet):
    """Reconciliation items the caller reads: ``?campaign=``, ``?state=``, ``?subtree=`` (a person's part of the
    organisation), ``?vm=``, ``?resolution=``, ``?routed_to=``, ``?status=open|answered``, ``?q=`` narrow them.
    ``answer/`` and ``route/`` close them or send them on, within the caller's part of the organisation."""

    allowed_roles = ALL_ROLES
    write_roles = ANSWER_ROLES
    serializer_class = ReconciliationItemSerializer
    filterset_class = ReconciliationItemFilter
    queryset = ReconciliationItem.objects.none()  # for the schema; each request reads get_queryset

    def get_queryset(self) -> QuerySet[ReconciliationItem]:
        if getattr(self, "swagger_fake_view", False):
            return ReconciliationItem.objects.none()
        return reconciliation_items_visible_to(self.request.user)

    def paginate_queryset(self, queryset):
        """The page is chosen by ids, then loaded with what an item shows (``reconciliation_items_page``)."""
        ids = super().paginate_queryset(queryset.values_list("pk", flat=True))
        return None if ids is None else reconciliation_items_page(list(ids))

    def _items(self, ids: list[int]) -> list[ReconciliationItem]:
        """The items named, all readable by the caller; a 404 names those that are not."""
        items = list(self.get_queryset().filter(pk__in=ids))
        missing = sorted(set(ids) - {item.pk for item in items})
        if missing:
            raise exceptions.NotFound(
                f"No item {', '.join(map(str, missing[:20]))}{' …' if len(missing) > 20 else ''} among those you "
                "can read: nothing was changed."
            )
        return items

    def _respond(self, count: int, ids: list[int]) -> Response:
        fresh = self.get_queryset().filter(pk__in=ids).order_by("id")
        return Response(ReconciliationAnsweredSerializer(
            {"count": count, "items": fresh}, context=self.get_serializer_context()
        ).data)

    @extend_schema(
        request=ReconciliationAnswerSerializer,
        responses=ReconciliationAnsweredSerializer,
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def answer(self, request):
        """Answer items (one, or up to 1,000 at once) with a resolution that fits their state; recorded with who
        and when, and in the audit trail. A claimed VM gets the caller as its owner, with its purpose."""
        data = _valid(ReconciliationAnswerSerializer, request)
        items = self._items(data["ids"])
        vm = None
        if data["vm"] is not None:
            vm = VirtualMachine.objects.filter(pk=data["vm"]).first()
            if vm is None:
                raise exceptions.ValidationError({"vm": [f"No VM has the id {data['vm']}."]})
        with _service_errors():
            count = follow_ups_answer(
                items=items, user=request.user, resolution=data["resolution"], note=data["note"], vm=vm,
                purpose=data["purpose"], data_categories=data["data_categories"],
            )
        return self._respond(count, data["ids"])

    @extend_schema(
        request=ReconciliationRouteSerializer,
        responses=ReconciliationAnsweredSerializer,
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def route(self, request):
        """Send items to somebody else to answer; their earlier answers are kept."""
        data = _valid(ReconciliationRouteSerializer, request)
        items = self._items(data["ids"])
        with _service_errors():
            count = follow_ups_route(items=items, to_person=data["to_person"], user=request.user)
        return self._respond(count, data["ids"])

