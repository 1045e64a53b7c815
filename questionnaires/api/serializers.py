"""Shapes of the questionnaires API: templates with their questions, campaigns, assignments, answers and VM lists.

Serializers describe shapes and check single fields; every rule that spans objects (who may act, in which
state, on which part of the chain) belongs to the services the views call (``questionnaires/services/``).
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.choices import Platform
from portal.api.fields import StrictCharField, StrictSlugField
from portal.models import Person
from questionnaires.choices import DataCategory, DeclaredVMStatus, VMPurpose
from questionnaires.models import (
    REVIEW_TEXT_MAX_LENGTH,
    Answer,
    Assignment,
    Campaign,
    DeclaredVM,
    Question,
    QuestionnaireTemplate,
    Section,
    TemplateVersion,
)
from questionnaires.services.answers import OTHER_TEXT_MAX_LENGTH
from questionnaires.vm_rows.parse import MAX_ROWS

# --- templates --------------------------------------------------------------------------------------------------


class ChoiceOptionSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()


class ShowIfSerializer(serializers.Serializer):
    """The question is shown only when the earlier question ``question`` is answered ``value``."""

    question = serializers.CharField(help_text="Key of the earlier question.")
    value = serializers.CharField()


class QuestionSerializer(serializers.ModelSerializer):
    choices = ChoiceOptionSerializer(many=True, read_only=True)
    show_if = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = ["key", "order", "text", "help_text", "kind", "required", "choices", "allow_other", "show_if"]

    @extend_schema_field(ShowIfSerializer(allow_null=True))
    def get_show_if(self, question: Question) -> dict | None:
        if question.show_if_question_id is None:
            return None
        return {"question": question.show_if_question.key, "value": question.show_if_value}


class SectionSerializer(serializers.ModelSerializer):
    questions = QuestionSerializer(many=True, read_only=True)

    class Meta:
        model = Section
        fields = ["key", "order", "title", "description", "questions"]


class TemplateVersionSerializer(serializers.ModelSerializer):
    sections = SectionSerializer(many=True, read_only=True)

    class Meta:
        model = TemplateVersion
        fields = ["id", "number", "created_at", "notes", "content_hash", "sections"]


class QuestionnaireTemplateSerializer(serializers.ModelSerializer):
    """A template with every version, newest first; a campaign names the version it uses by id."""

    versions = TemplateVersionSerializer(many=True, read_only=True)

    class Meta:
        model = QuestionnaireTemplate
        fields = ["id", "slug", "name", "description", "versions"]


# --- campaigns --------------------------------------------------------------------------------------------------


class CampaignSerializer(serializers.ModelSerializer):
    template = serializers.CharField(source="version.template.slug", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    scope_name = serializers.CharField(source="scope.name", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "template", "version", "version_number", "scope", "scope_name", "owner", "status",
            "due_date", "reminder_every_days", "escalate_after_days", "cascade", "created_at", "launched_at",
            "closed_at",
        ]
        read_only_fields = fields


class CampaignCreateSerializer(serializers.Serializer):
    """A draft campaign; the due date, the scope and the cadences are checked by ``campaign_create``."""

    name = StrictCharField(max_length=200)
    version = serializers.PrimaryKeyRelatedField(
        queryset=TemplateVersion.objects.all(), help_text="Template version id."
    )
    scope = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(), help_text="Id of the person whose subtree is asked."
    )
    due_date = serializers.DateField()
    reminder_every_days = serializers.IntegerField(default=7, help_text="Days between reminders (0: none).")
    escalate_after_days = serializers.IntegerField(default=3, help_text="Days overdue before escalating.")
    cascade = serializers.BooleanField(
        default=True, help_text="Assign the whole subtree at launch, or only its head, who delegates."
    )


class CampaignReopenSerializer(serializers.Serializer):
    due_date = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="A new due date (required when the old one passed)."
    )


class ProgressSerializer(serializers.Serializer):
    """Assignments by status for the campaign, or for one person's part and everything delegated below it."""

    person = serializers.IntegerField(allow_null=True, help_text="Whose part is counted; null for the campaign.")
    not_started = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    submitted = serializers.IntegerField()
    returned = serializers.IntegerField()
    accepted = serializers.IntegerField()
    overdue = serializers.IntegerField(help_text="Not started, in progress or returned after the due date.")
    total = serializers.IntegerField()
    percent_accepted = serializers.IntegerField()


# --- assignments ------------------------------------------------------------------------------------------------


class AssignmentSerializer(serializers.ModelSerializer):
    """One person's part of a campaign. ``sections`` empty means the whole questionnaire."""

    campaign_name = serializers.CharField(source="campaign.name", read_only=True)
    due_date = serializers.DateField(source="campaign.due_date", read_only=True)
    person_name = serializers.CharField(source="person.name", read_only=True)
    person_email = serializers.EmailField(source="person.email", read_only=True)
    parent_person_name = serializers.CharField(
        source="parent.person.name", read_only=True, default=None, allow_null=True
    )
    sections = serializers.SlugRelatedField(many=True, read_only=True, slug_field="key")
    reviewed_by = serializers.CharField(source="reviewed_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Assignment
        fields = [
            "id", "campaign", "campaign_name", "due_date", "person", "person_name", "person_email", "parent",
            "parent_person_name", "sections", "status", "created_at", "started_at", "submitted_at", "reviewed_at",
            "reviewed_by", "review_comment", "answered_by_manager_reason", "escalation_level",
        ]
        read_only_fields = fields


class DelegateSerializer(serializers.Serializer):
    to_person = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.all(), help_text="Id of a direct report of the assignee."
    )
    sections = serializers.ListField(
        child=StrictSlugField(max_length=100),
        required=False,
        default=list,
        help_text="Keys of the sections handed down; empty for all of the assignment.",
    )


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "return"])
    comment = StrictCharField(
        required=False, allow_blank=True, default="", max_length=REVIEW_TEXT_MAX_LENGTH,
        help_text="Required to return: what the assignee must fix.",
    )


class AnswerForSerializer(serializers.Serializer):
    reason = StrictCharField(
        required=False, allow_blank=True, default="", max_length=REVIEW_TEXT_MAX_LENGTH,
        help_text="Why the manager answers this part (required).",
    )


class ReassignSerializer(serializers.Serializer):
    to_person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all(), help_text="Id of the new assignee.")


# --- answers ----------------------------------------------------------------------------------------------------


class AnswerSerializer(serializers.ModelSerializer):
    """An answer as stored (see ``services/answers.py`` for the value of each kind of question)."""

    question = serializers.CharField(source="question.key", read_only=True)
    section = serializers.CharField(source="question.section.key", read_only=True)
    value = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = Answer
        fields = ["question", "section", "value", "other_text", "updated_at"]
        read_only_fields = fields


class AnswerWriteSerializer(serializers.Serializer):
    """One answer, saved as a draft; a null or empty ``value`` clears it."""

    question = StrictSlugField(max_length=100, help_text="Key of the question.")
    value = serializers.JSONField(
        required=False,
        allow_null=True,
        default=None,
        help_text='Text, "yes"/"no", a choice value or a list of them, a date YYYY-MM-DD, a number.',
    )
    other_text = StrictCharField(
        required=False, allow_blank=True, default="", max_length=OTHER_TEXT_MAX_LENGTH,
        help_text='What "other" is, when the answer chose it.',
    )


# --- declared VMs -----------------------------------------------------------------------------------------------


class DeclaredVMSerializer(serializers.ModelSerializer):
    question = serializers.CharField(source="question.key", read_only=True)
    # Declared so the schema keeps "" (not given) among the values: a read-only model field loses it.
    platform = serializers.ChoiceField(choices=Platform.choices, allow_blank=True, read_only=True)
    purpose = serializers.ChoiceField(choices=VMPurpose.choices, allow_blank=True, read_only=True)
    status = serializers.ChoiceField(choices=DeclaredVMStatus.choices, allow_blank=True, read_only=True)

    class Meta:
        model = DeclaredVM
        fields = [
            "id", "question", "row", "name", "address", "platform", "software", "location", "created_on",
            "created_by", "purpose", "purpose_other", "status", "owner", "data_categories", "notes", "uuid", "vm_id",
            "mac_address", "disposition", "inventory_vm",
        ]
        read_only_fields = fields


class VMRowSerializer(serializers.Serializer):
    """One row of a VM list as sent (documentation of the cells; ``vm_rows_parse`` reads and checks them)."""

    id = serializers.IntegerField(required=False, help_text="The declared VM this row edits, if any.")
    name = serializers.CharField()
    address = serializers.CharField(required=False, help_text="Host name or IP address.")
    platform = serializers.CharField(
        required=False, help_text=f"One of {', '.join(Platform.values)}, or a usual spelling (ESXi, Hyper-V...)."
    )
    software = serializers.CharField(required=False)
    location = serializers.CharField(required=False)
    created_on = serializers.CharField(required=False, help_text="YYYY-MM-DD, YYYY/MM/DD, D.M.YYYY or 5 Mar 2024.")
    created_by = serializers.CharField(required=False)
    purpose = serializers.CharField(required=False, help_text=f"One of {', '.join(VMPurpose.values)}.")
    purpose_other = serializers.CharField(required=False)
    status = serializers.CharField(required=False, help_text=f"One of {', '.join(DeclaredVMStatus.values)}.")
    owner = serializers.CharField(required=False)
    data_categories = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text=f"Any of {', '.join(DataCategory.values)} (a string separated by ';' works too).",
    )
    notes = serializers.CharField(required=False)
    uuid = serializers.CharField(required=False, help_text="Instance or BIOS UUID (RVTools' VM UUID or SMBIOS UUID).")
    vm_id = serializers.CharField(required=False, help_text="vCenter VM ID (moref), e.g. vm-1042.")
    mac_address = serializers.CharField(required=False, help_text="A MAC address, e.g. 00:50:56:ab:cd:ef.")


@extend_schema_field(VMRowSerializer(many=True))
class VMRowsField(serializers.ListField):
    """The rows, each left as sent: ``vm_rows_parse`` names the problems of every cell, row by row, from 1."""

    child = serializers.JSONField()


class DeclaredVMRowsSerializer(serializers.Serializer):
    question = StrictSlugField(
        max_length=100, required=False, help_text="Key of the VM list; optional when the template has one."
    )
    replace = serializers.BooleanField(
        default=True,
        help_text="The rows are the whole list: typed rows not in it are deleted (never when a row has a problem; "
        "rows found by the scanners are disowned, not deleted). False adds or edits only.",
    )
    rows = VMRowsField(
        max_length=MAX_ROWS,
        help_text=f"At most {MAX_ROWS:,} rows. A row that edits a saved one (by id, or by name) changes only the "
        "columns it has: a column left out keeps its value.",
    )


class RowProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="From 1, in the order sent; 0 for the input as a whole.")
    column = serializers.CharField()
    message = serializers.CharField()


class SaveResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    deleted = serializers.IntegerField()
    total = serializers.IntegerField(help_text="Rows in the list after the save.")


class DeclaredVMRowsResultSerializer(serializers.Serializer):
    """What became of the rows: every problem named, and what was saved (null when nothing was)."""

    detail = serializers.CharField()
    problems = RowProblemSerializer(many=True)
    saved = SaveResultSerializer(allow_null=True)
