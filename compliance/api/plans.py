"""API of the security plan, with the pages' permissions: compliance roles read the versions; compliance officers
and admins write a new version (POST); a version's stakeholders sign it off (POST .../signoff/)."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance.models import PlanSignoff, PlanVersion
from compliance.selectors import plan_version_get, plan_versions
from compliance.services.plans import PLAN_EDIT_ROLES, SECTION_FIELDS, plan_signoff, plan_version_create
from compliance.services.texts import PLAN_SECTION_MAX_LENGTH, STATEMENT_MAX_LENGTH
from portal.api.fields import StrictCharField
from portal.choices import ALL_ROLES, COMPLIANCE_ROLES, Role
from portal.models import Person
from portal.selectors import person_for_user


class PlanSignoffSerializer(serializers.ModelSerializer):
    person = serializers.CharField(source="person.email", read_only=True)
    name = serializers.CharField(source="person.name", read_only=True)

    class Meta:
        model = PlanSignoff
        fields = ["person", "name", "signed_at"]
        read_only_fields = fields


class PlanVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.__str__", read_only=True)
    stakeholders = serializers.SlugRelatedField(slug_field="email", many=True, read_only=True)
    signoffs = PlanSignoffSerializer(many=True, read_only=True)
    signed_off = serializers.SerializerMethodField(help_text="Every stakeholder signed this version off.")

    class Meta:
        model = PlanVersion
        fields = ["number", *SECTION_FIELDS, "change_summary", "review_due_on", "created_by", "created_at",
                  "stakeholders", "signoffs", "signed_off"]
        read_only_fields = fields

    def get_signed_off(self, version: PlanVersion) -> bool:
        return bool(version.stakeholder_count) and version.signoff_count == version.stakeholder_count


def _section_field(field: str) -> StrictCharField:
    return StrictCharField(max_length=PLAN_SECTION_MAX_LENGTH, allow_blank=True)


class PlanVersionWriteSerializer(serializers.Serializer):
    change_summary = StrictCharField(max_length=STATEMENT_MAX_LENGTH, allow_blank=True)
    review_due_on = serializers.DateField()
    stakeholders = serializers.SlugRelatedField(
        slug_field="email", many=True, queryset=Person.objects.all(), help_text="E-mails of people with a login."
    )

    def get_fields(self):
        fields = super().get_fields()
        for field in SECTION_FIELDS:
            fields[field] = _section_field(field)
        return fields


class PlanVersionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Versions of the security plan, newest first, by number, with their stakeholders and sign-offs."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = PLAN_EDIT_ROLES
    serializer_class = PlanVersionSerializer
    lookup_field = "number"
    lookup_value_regex = "[0-9]+"
    queryset = PlanVersion.objects.none()  # the model, for the schema; get_queryset reads the versions

    def get_queryset(self):
        return plan_versions()

    def get_object(self):
        return plan_version_get(number=int(self.kwargs["number"]))

    @extend_schema(request=PlanVersionWriteSerializer, responses={201: PlanVersionSerializer})
    def create(self, request, *args, **kwargs):
        write = PlanVersionWriteSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        data = write.validated_data
        try:
            version = plan_version_create(
                user=request.user, sections={field: data[field] for field in SECTION_FIELDS},
                change_summary=data["change_summary"], review_due_on=data["review_due_on"],
                stakeholders=data["stakeholders"],
            )
        except DjangoPermissionDenied as error:
            raise exceptions.PermissionDenied(str(error)) from None
        return Response(PlanVersionSerializer(plan_version_get(number=version.number)).data,
                        status=status.HTTP_201_CREATED)


class PlanSignoffStateSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    signoffs = PlanSignoffSerializer(many=True)
    awaited = serializers.ListField(child=serializers.EmailField(), help_text="Stakeholders yet to sign.")
    may_sign = serializers.BooleanField(help_text="The caller is a stakeholder who has not signed yet.")


class PlanSignoffView(APIView):
    """A version's sign-offs (GET, for its stakeholders and the compliance roles) and the caller's sign-off
    (POST, for a stakeholder named on it: the newest version only, once). Auditors read and never sign."""

    allowed_roles = ALL_ROLES
    write_roles = ALL_ROLES - {Role.AUDITOR}

    def _version(self, request, number: int) -> PlanVersion:
        version = plan_version_get(number=number)
        person = person_for_user(user=request.user)
        is_stakeholder = person is not None and any(p.pk == person.pk for p in version.stakeholders.all())
        if not (is_stakeholder or request.user.has_role(*COMPLIANCE_ROLES)):
            raise exceptions.PermissionDenied("Only this version's stakeholders and the compliance roles read it.")
        self.person = person if is_stakeholder else None
        return version

    @extend_schema(responses={200: PlanSignoffStateSerializer})
    def get(self, request, number: int):
        version = self._version(request, number)
        signed = {signoff.person_id for signoff in version.signoffs.all()}
        data = {
            "number": version.number, "signoffs": version.signoffs.all(),
            "awaited": [p.email for p in version.stakeholders.all() if p.pk not in signed],
            "may_sign": self.person is not None and self.person.pk not in signed
            and not request.user.has_role(Role.AUDITOR),
        }
        return Response(PlanSignoffStateSerializer(data).data)

    @extend_schema(request=None, responses={201: PlanSignoffSerializer})
    def post(self, request, number: int):
        version = self._version(request, number)
        try:
            signoff = plan_signoff(version=version, user=request.user)
        except DjangoPermissionDenied as error:
            raise exceptions.PermissionDenied(str(error)) from None
        return Response(PlanSignoffSerializer(signoff).data, status=status.HTTP_201_CREATED)
