"""The questionnaires API: templates, campaigns, assignments down the chain, answers and declared VMs.

Who may read what is the selectors' (``assignments_visible_to``: oversight roles see everything, anybody else
their own assignments and their subtree's); who may do what is the services', called as the pages call them.
A service's ``PermissionDenied`` is a 403 and its ``ValidationError`` a 400 with its messages by field; the
services are atomic, so a refused request changes nothing. Every viewset declares ``allowed_roles`` (read) and
``write_roles`` (POST, PUT): auditors read and never write.
"""

from contextlib import contextmanager

import django_filters
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings

from portal.choices import ALL_ROLES, OVERSIGHT_ROLES
from portal.models import Person
from portal.selectors import person_for_user, person_subtree
from questionnaires.api.serializers import (
    AnswerForSerializer,
    AnswerSerializer,
    AnswerWriteSerializer,
    AssignmentSerializer,
    CampaignCreateSerializer,
    CampaignReopenSerializer,
    CampaignSerializer,
    DeclaredVMRowsResultSerializer,
    DeclaredVMRowsSerializer,
    DeclaredVMSerializer,
    DelegateSerializer,
    ProgressSerializer,
    QuestionnaireTemplateSerializer,
    ReassignSerializer,
    ReviewSerializer,
)
from questionnaires.choices import AssignmentStatus, CampaignStatus, QuestionKind
from questionnaires.models import Answer, Assignment, Campaign, DeclaredVM, Question, Section
from questionnaires.permissions import ANSWER_ROLES, CAMPAIGN_ROLES
from questionnaires.selectors import assignments_visible_to, campaign_progress, campaigns_visible_to, template_list
from questionnaires.services.answers import answer_save
from questionnaires.services.assignments import (
    assignment_answer_for,
    assignment_delegate,
    assignment_reassign,
    assignment_review,
    assignment_submit,
)
from questionnaires.services.campaigns import campaign_close, campaign_create, campaign_launch, campaign_reopen
from questionnaires.services.declared_vms import declared_vms_grid_save

# Roles that may send a write at all, as on the pages; the services then decide on the object (assignee,
# reviewer, owner). Auditors are not among them: they read everything and change nothing.
ASSIGNMENT_WRITE_ROLES = ANSWER_ROLES
# campaign_create and the owner's actions (launch, close, re-open) are for compliance officers and admins only.
CAMPAIGN_WRITE_ROLES = CAMPAIGN_ROLES


# --- errors of the services -------------------------------------------------------------------------------------


def _validation_detail(error: DjangoValidationError, rename: dict[str, str] | None = None) -> dict[str, list[str]]:
    """A service's ValidationError as DRF's 400 body: messages by field, the rest under ``non_field_errors``.

    ``rename`` maps a service's field to the request's (a bad answer is keyed by its question, the request sent
    it as ``value``), and the code of an error without a field to the field it is about.
    """
    rename = {NON_FIELD_ERRORS: api_settings.NON_FIELD_ERRORS_KEY, **(rename or {})}
    if hasattr(error, "error_dict"):
        detail: dict[str, list[str]] = {}
        for field, messages in error.message_dict.items():
            detail.setdefault(rename.get(field, field), []).extend(messages)
        return detail
    field = rename.get(getattr(error, "code", None) or "", api_settings.NON_FIELD_ERRORS_KEY)
    return {field: error.messages}


@contextmanager
def _service_errors(rename: dict[str, str] | None = None):
    """Turn the services' refusals into DRF errors, keeping their messages (DRF would replace a 403's)."""
    try:
        yield
    except DjangoPermissionDenied as error:
        raise exceptions.PermissionDenied(str(error) or None) from None
    except DjangoValidationError as error:
        raise exceptions.ValidationError(_validation_detail(error, rename)) from None


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _is_oversight(user) -> bool:
    return user.has_role(*OVERSIGHT_ROLES)


# --- filters ----------------------------------------------------------------------------------------------------


class CampaignFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CampaignStatus.choices)

    class Meta:
        model = Campaign
        fields = ["status"]


class AssignmentFilter(django_filters.FilterSet):
    # By id without looking the object up: a caller learns nothing of campaigns or people they cannot see.
    campaign = django_filters.NumberFilter(field_name="campaign_id", label="Campaign (id)")
    person = django_filters.NumberFilter(field_name="person_id", label="Person (id)")
    status = django_filters.ChoiceFilter(choices=AssignmentStatus.choices)

    class Meta:
        model = Assignment
        fields = ["campaign", "person", "status"]


# --- templates --------------------------------------------------------------------------------------------------


class QuestionnaireTemplateViewSet(viewsets.ReadOnlyModelViewSet):
    """Questionnaire templates, each with its versions (newest first), sections and questions."""

    allowed_roles = ALL_ROLES
    write_roles = frozenset()  # templates are loaded from files by a command, never through the API
    serializer_class = QuestionnaireTemplateSerializer
    queryset = template_list()


# --- campaigns --------------------------------------------------------------------------------------------------


class CampaignViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Campaigns: every one for compliance officers, auditors and admins; for anybody else, those they have a
    part in. Compliance officers (and admins) create them; the owner launches, closes and re-opens them."""

    allowed_roles = ALL_ROLES
    write_roles = CAMPAIGN_WRITE_ROLES
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    queryset = Campaign.objects.none()  # for the schema; each request reads get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Campaign.objects.none()
        return campaigns_visible_to(self.request.user)

    @extend_schema(request=CampaignCreateSerializer, responses={201: CampaignSerializer})
    def create(self, request, *args, **kwargs):
        """A draft campaign owned by the caller; nothing is sent until it is launched."""
        data = _valid(CampaignCreateSerializer, request)
        with _service_errors():
            campaign = campaign_create(owner=request.user, **data)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    def _respond(self, campaign: Campaign) -> Response:
        return Response(CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def launch(self, request, pk=None):
        """Draft → active: assignments for the scope (its whole subtree when cascading), each assignee told."""
        campaign = self.get_object()
        with _service_errors():
            campaign_launch(campaign=campaign, user=request.user)
        return self._respond(campaign)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def close(self, request, pk=None):
        """Active → closed: answers freeze."""
        campaign = self.get_object()
        with _service_errors():
            campaign_close(campaign=campaign, user=request.user)
        return self._respond(campaign)

    @extend_schema(request=CampaignReopenSerializer, responses=CampaignSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def reopen(self, request, pk=None):
        """Closed → active, with a new due date when the old one has passed."""
        campaign = self.get_object()
        data = _valid(CampaignReopenSerializer, request)
        with _service_errors():
            campaign_reopen(campaign=campaign, user=request.user, due_date=data["due_date"])
        return self._respond(campaign)

    @extend_schema(
        responses=ProgressSerializer,
        filters=False,
        parameters=[
            OpenApiParameter(
                "person",
                OpenApiTypes.INT,
                description="Count this person's part and everything delegated below it. Without it: the "
                "whole campaign for compliance officers, auditors and admins, the caller's own part for others, "
                "who may name only people of their own subtree.",
            )
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def progress(self, request, pk=None):
        """Assignments by status, overdue, total and the share accepted."""
        campaign = self.get_object()
        person = self._progress_person(request)
        counts = campaign_progress(campaign=campaign, root_person=person)
        return Response(ProgressSerializer({"person": person.pk if person else None, **counts}).data)

    def _progress_person(self, request) -> Person | None:
        raw = request.query_params.get("person")
        person = None
        if raw not in (None, ""):
            try:
                person = Person.objects.get(pk=int(raw))
            except (ValueError, Person.DoesNotExist):
                raise exceptions.ValidationError({"person": [f"No person with id {raw!r}."]}) from None
        if _is_oversight(request.user):
            return person
        me = person_for_user(user=request.user)
        if me is None:
            raise exceptions.PermissionDenied("Your login is not a person of the organisation.")
        if person is None:
            return me
        if not person_subtree(person=me).filter(pk=person.pk).exists():
            raise exceptions.PermissionDenied(f"{person.name} is not in your part of the organisation.")
        return person


# --- assignments ------------------------------------------------------------------------------------------------


class AssignmentViewSet(viewsets.ReadOnlyModelViewSet):
    """Assignments: the caller's own and their subtree's (every one for compliance officers, auditors and
    admins), soonest due first. ``?campaign=ID``, ``?person=ID`` and ``?status=`` narrow them. The actions call
    the workflow services: only the assignee delegates, submits and answers; only the reviewer (the assignee of
    the part above, or the campaign's owner for the root) reviews."""

    allowed_roles = ALL_ROLES
    write_roles = ASSIGNMENT_WRITE_ROLES
    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilter
    queryset = Assignment.objects.none()  # for the schema; each request reads get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Assignment.objects.none()
        return (
            assignments_visible_to(self.request.user)
            .select_related("reviewed_by")
            .prefetch_related("sections")
            .order_by("campaign__due_date", "person__name", "id")
        )

    def _respond(self, assignment: Assignment, code: int = status.HTTP_200_OK) -> Response:
        fresh = Assignment.objects.select_related("campaign", "person", "parent__person", "reviewed_by").get(
            pk=assignment.pk
        )
        return Response(AssignmentSerializer(fresh).data, status=code)

    @extend_schema(request=DelegateSerializer, responses={201: AssignmentSerializer})
    @action(detail=True, methods=["post"], filter_backends=[])
    def delegate(self, request, pk=None):
        """Hand the assignment (or named sections) to one of the assignee's direct reports: their new part."""
        assignment = self.get_object()
        data = _valid(DelegateSerializer, request)
        keys = list(dict.fromkeys(data["sections"]))
        sections = list(Section.objects.filter(version_id=assignment.campaign.version_id, key__in=keys))
        unknown = sorted(set(keys) - {section.key for section in sections})
        if unknown:
            raise exceptions.ValidationError({"sections": [f"No section {key!r} in this campaign." for key in unknown]})
        with _service_errors():
            child = assignment_delegate(
                assignment=assignment, to_person=data["to_person"], sections=sections, user=request.user
            )
        return self._respond(child, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def submit(self, request, pk=None):
        """Send the answers up for review; refused with every reason at once while something is missing."""
        assignment = self.get_object()
        with _service_errors():
            assignment_submit(assignment=assignment, user=request.user)
        return self._respond(assignment)

    @extend_schema(request=ReviewSerializer, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def review(self, request, pk=None):
        """Accept a submitted assignment, or return it with a comment saying what to fix."""
        assignment = self.get_object()
        data = _valid(ReviewSerializer, request)
        with _service_errors():
            assignment_review(
                assignment=assignment, user=request.user, accept=data["decision"] == "accept", comment=data["comment"]
            )
        return self._respond(assignment)

    @extend_schema(request=AnswerForSerializer, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"], url_path="answer-for", filter_backends=[])
    def answer_for(self, request, pk=None):
        """The manager who delegated this part answers it themselves: they give its answers first (``answers`` of
        this part accept their writes), then a reason; refused with every missing answer under ``answers``. It becomes
        accepted, and so do the parts delegated below it that are not accepted yet."""
        assignment = self.get_object()
        data = _valid(AnswerForSerializer, request)
        with _service_errors():
            assignment_answer_for(assignment=assignment, user=request.user, reason=data["reason"])
        return self._respond(assignment)

    @extend_schema(request=ReassignSerializer, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def reassign(self, request, pk=None):
        """Give the assignment, with its answers and the parts below it, to another person."""
        assignment = self.get_object()
        data = _valid(ReassignSerializer, request)
        with _service_errors():
            assignment_reassign(assignment=assignment, to_person=data["to_person"], user=request.user)
        return self._respond(assignment)

    # --- answers ---

    @extend_schema(methods=["GET"], responses=AnswerSerializer(many=True), filters=False)
    @extend_schema(methods=["PUT", "POST"], request=AnswerWriteSerializer, responses=AnswerSerializer)
    @action(detail=True, methods=["get", "put", "post"], filter_backends=[])
    def answers(self, request, pk=None):
        """GET: the assignment's answers, in questionnaire order. PUT or POST: save one answer as a draft
        (the assignee only); a 400 names the question and says what is wrong with the value."""
        assignment = self.get_object()
        if request.method == "GET":
            answers = (
                Answer.objects.filter(assignment=assignment)
                .select_related("question__section")
                .order_by("question__section__order", "question__order", "id")
            )
            page = self.paginate_queryset(answers)
            return self.get_paginated_response(AnswerSerializer(page, many=True).data)
        data = _valid(AnswerWriteSerializer, request)
        question = (
            Question.objects.select_related("section", "show_if_question")
            .filter(section__version_id=assignment.campaign.version_id, key=data["question"])
            .first()
        )
        if question is None:
            raise exceptions.ValidationError(
                {"question": [f"{data['question']!r} is not a question of this campaign."]}
            )
        # The service keys a bad value by the question's key; here the field sent was "value".
        with _service_errors(rename={question.key: "value", "wrong_question": "question"}):
            answer = answer_save(
                assignment=assignment,
                question=question,
                raw=data["value"],
                other_text=data["other_text"],
                user=request.user,
            )
        answer.question = question
        return Response(AnswerSerializer(answer).data)

    # --- declared VMs ---

    @extend_schema(methods=["GET"], responses=DeclaredVMSerializer(many=True), filters=False)
    @extend_schema(
        methods=["POST"],
        request=DeclaredVMRowsSerializer,
        responses={200: DeclaredVMRowsResultSerializer, 400: DeclaredVMRowsResultSerializer},
    )
    @action(detail=True, methods=["get", "post"], url_path="declared-vms", filter_backends=[])
    def declared_vms(self, request, pk=None):
        """GET: the VMs declared in the assignment, list by list, row by row. POST: save rows of a VM list (the
        assignee only). A bare JSON list is taken as ``rows``. Every bad cell is named (400) and the good rows
        are saved all the same, as a draft; while any row has a problem nothing is deleted."""
        assignment = self.get_object()
        if request.method == "GET":
            declared = (
                DeclaredVM.objects.filter(assignment=assignment)
                .select_related("question__section")
                .order_by("question__section__order", "question__order", "row", "id")
            )
            page = self.paginate_queryset(declared)
            return self.get_paginated_response(DeclaredVMSerializer(page, many=True).data)
        payload = {"rows": request.data} if isinstance(request.data, list) else request.data
        serializer = DeclaredVMRowsSerializer(data=payload)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with _service_errors(rename={"wrong_question": "question"}):
            question = self._vm_list_question(assignment, data.get("question"))
            result = declared_vms_grid_save(
                assignment=assignment, question=question, grid=data["rows"], user=request.user,
                replace=data["replace"],
            )
        parsed, saved = result.parsed, result.saved
        problems = [{"row": p.row, "column": p.column, "message": p.message} for p in parsed.problems]
        if problems:
            kept = f"the {len(parsed.rows)} good row(s) were saved" if saved else "nothing was saved"
            detail = f"{len(problems)} problem(s); {kept}."
        else:
            detail = f"{len(parsed.rows)} row(s) saved."
        body = {"detail": detail, "problems": problems, "saved": vars(saved) if saved else None}
        code = status.HTTP_400_BAD_REQUEST if problems else status.HTTP_200_OK
        return Response(DeclaredVMRowsResultSerializer(body).data, status=code)

    @staticmethod
    def _vm_list_question(assignment: Assignment, key: str | None) -> Question:
        lists = Question.objects.select_related("section").filter(
            section__version_id=assignment.campaign.version_id, kind=QuestionKind.VM_LIST
        )
        if key:
            question = lists.filter(key=key).first()
            if question is None:
                raise exceptions.ValidationError({"question": [f"{key!r} is not a VM list of this campaign."]})
            return question
        found = list(lists.order_by("section__order", "order")[:2])
        if len(found) != 1:
            keys = ", ".join(question.key for question in lists)
            raise exceptions.ValidationError(
                {"question": [f"Name the VM list: one of {keys}." if found else "This campaign has no VM list."]}
            )
        return found[0]
