"""Template files: the standard VM discovery template, versions only on change, launched campaigns untouched, errors."""

import copy
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from portal.models import AuditEvent
from questionnaires.choices import QuestionKind
from questionnaires.models import Question, QuestionnaireTemplate, Section, TemplateVersion
from questionnaires.services.templates import DATA_DIR, TemplateFileError, template_load
from tests.questionnaires.factories import CampaignFactory

pytestmark = pytest.mark.django_db

STANDARD = DATA_DIR / "vm_discovery.json"
STANDARD_KEYS = {
    "your-area": ["runs_vms", "vm_platforms", "desktop_vms", "vm_count", "data_handled"],
    "vms": ["vm_list"],
    "processes": [
        "creation_process",
        "approval_required",
        "approver",
        "approval_recorded",
        "patching_method",
        "patch_frequency",
        "maintenance_process",
        "decommission_process",
        "process_documented",
        "process_document",
        "last_review",
    ],
    "comments": ["comments"],
}

SMALL = {
    "slug": "small",
    "name": "Small",
    "sections": [
        {
            "key": "one",
            "title": "One",
            "questions": [
                {"key": "runs", "text": "Runs VMs?", "kind": "yes_no", "required": True},
                {
                    "key": "where",
                    "text": "Where?",
                    "kind": "single_choice",
                    "choices": [{"value": "dc", "label": "Data centre"}, {"value": "desk", "label": "Desk"}],
                    "allow_other": True,
                    "show_if": {"question": "runs", "value": "yes"},
                },
            ],
        }
    ],
}


def write(tmp_path: Path, document: dict | str, name: str = "small.json") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def questions_of(version: TemplateVersion) -> list[tuple]:
    return list(
        Question.objects.filter(section__version=version)
        .order_by("section__order", "order")
        .values_list("section__key", "key", "kind", "required", "show_if_question__key", "show_if_value")
    )


def test_the_standard_template_covers_the_vm_discovery_questions():
    version = template_load(path=STANDARD)

    assert (version.template.slug, version.template.name, version.number, version.created) == (
        "vm-discovery",
        "VM discovery",
        1,
        True,
    )
    sections = list(version.sections.order_by("order"))
    assert {section.key: [q.key for q in section.questions.order_by("order")] for section in sections} == STANDARD_KEYS
    by_key = {question.key: question for question in Question.objects.filter(section__version=version)}
    assert by_key["runs_vms"].kind == QuestionKind.YES_NO
    assert (by_key["runs_vms"].required, by_key["runs_vms"].show_if_question) == (True, None)
    # The VM list and the platforms only when the area runs VMs.
    for key in ("vm_list", "vm_platforms", "desktop_vms", "creation_process", "decommission_process"):
        assert (by_key[key].show_if_question.key, by_key[key].show_if_value) == ("runs_vms", "yes"), key
    assert (by_key["approver"].show_if_question.key, by_key["approver"].show_if_value) == ("approval_required", "yes")
    assert by_key["vm_list"].kind == QuestionKind.VM_LIST
    assert [choice["value"] for choice in by_key["vm_platforms"].choices] == [
        "vmware-esxi",
        "vmware-workstation",
        "hyperv",
        "kvm",
        "xen",
        "virtualbox",
        "cloud",
    ]
    assert by_key["vm_platforms"].allow_other is True
    assert [choice["value"] for choice in by_key["data_handled"].choices] == [
        "ephi",
        "financial_reporting",
        "customer_financial",
        "personal",
        "none",
    ]
    assert len(version.content_hash) == 64
    event = AuditEvent.objects.get(action="questionnaire_template.version_created")
    assert event.details == {"file": "vm_discovery.json", "number": 1, "content_hash": version.content_hash}


def test_loading_again_changes_nothing():
    first = template_load(path=STANDARD)

    again = template_load(path=STANDARD)

    assert (again.pk, again.number, again.created) == (first.pk, 1, False)
    assert TemplateVersion.objects.count() == 1
    assert Question.objects.count() == 18
    assert AuditEvent.objects.filter(action="questionnaire_template.version_created").count() == 1


def test_a_changed_file_makes_v2_and_a_launched_campaign_keeps_v1(tmp_path):
    path = write(tmp_path, SMALL)
    v1 = template_load(path=path)
    campaign = CampaignFactory(version=v1)
    v1_questions = questions_of(v1)
    changed = copy.deepcopy(SMALL)
    changed["sections"][0]["questions"][1]["choices"].append({"value": "cloud", "label": "Cloud"})
    changed["sections"][0]["questions"].append({"key": "count", "text": "How many?", "kind": "number"})

    v2 = template_load(path=write(tmp_path, changed))

    assert (v2.number, v2.created) == (2, True)
    assert v2.content_hash != v1.content_hash
    campaign.refresh_from_db()
    assert campaign.version_id == v1.pk
    assert questions_of(v1) == v1_questions
    assert Question.objects.get(section__version=v1, key="where").choices == [
        {"value": "dc", "label": "Data centre"},
        {"value": "desk", "label": "Desk"},
    ]
    assert questions_of(v2) == [
        ("one", "runs", "yes_no", True, None, ""),
        ("one", "where", "single_choice", False, "runs", "yes"),
        ("one", "count", "number", False, None, ""),
    ]
    assert QuestionnaireTemplate.objects.get(slug="small").latest_version == v2


def test_layout_and_explicit_defaults_are_not_a_change(tmp_path):
    v1 = template_load(path=write(tmp_path, SMALL))
    same = copy.deepcopy(SMALL)
    same["sections"][0]["description"] = ""
    same["sections"][0]["questions"][0].update({"help": "", "allow_other": False, "choices": []})
    text = json.dumps(same, indent=4, sort_keys=True)

    again = template_load(path=write(tmp_path, text))

    assert (again.pk, again.created) == (v1.pk, False)


def test_a_new_name_renames_the_template_without_a_new_version(tmp_path):
    v1 = template_load(path=write(tmp_path, SMALL))
    renamed = {**SMALL, "name": "Small questionnaire", "description": "Now described."}

    again = template_load(path=write(tmp_path, renamed))

    assert (again.pk, again.created) == (v1.pk, False)
    template = QuestionnaireTemplate.objects.get(slug="small")
    assert (template.name, template.description) == ("Small questionnaire", "Now described.")


def test_every_problem_is_named_and_nothing_is_written(tmp_path):
    bad = copy.deepcopy(SMALL)
    questions = bad["sections"][0]["questions"]
    questions[0]["show_if"] = {"question": "where", "value": "dc"}  # a later question
    questions.append({"key": "runs", "text": "Again?", "kind": "yes_no"})  # duplicate key
    questions.append({"key": "size", "text": "Size?", "kind": "slider"})  # unknown kind
    questions.append({"key": "pick", "text": "Pick?", "kind": "multiple_choice"})  # no choices
    questions.append({"key": "when", "text": "When?", "kind": "date", "show_if": {"question": "nope", "value": "x"}})
    questions.append(
        {"key": "then", "text": "Then?", "kind": "text", "show_if": {"question": "where", "value": "moon"}}
    )
    questions.append({"key": "typo", "text": "Typo?", "kind": "text", "requird": True})
    path = write(tmp_path, bad)

    with pytest.raises(TemplateFileError) as refused:
        template_load(path=path)

    assert refused.value.problems == [
        "question runs: show_if names 'where', which is not an earlier question",
        "question runs: duplicate question key 'runs'",
        "question size: unknown kind 'slider' (expected one of text, long_text, yes_no, single_choice, "
        "multiple_choice, date, number, vm_list)",
        "question pick: a multiple_choice question needs a non-empty list of choices",
        "question when: show_if names 'nope', which is not an earlier question",
        "question then: show_if value 'moon' is not an answer of 'where' (dc, desk, other)",
        "question typo: unknown field 'requird' (expected allow_other, choices, help, key, kind, required, show_if, "
        "text)",
    ]
    assert QuestionnaireTemplate.objects.count() == 0
    assert (TemplateVersion.objects.count(), Section.objects.count(), AuditEvent.objects.count()) == (0, 0, 0)


def test_show_if_must_test_a_yes_no_or_choice_answer(tmp_path):
    bad = copy.deepcopy(SMALL)
    bad["sections"][0]["questions"] = [
        {"key": "name", "text": "Name?", "kind": "text"},
        {"key": "more", "text": "More?", "kind": "text", "show_if": {"question": "name", "value": "x"}},
        {
            "key": "odd",
            "text": "Odd?",
            "kind": "single_choice",
            "choices": [
                {"value": "other", "label": "Other"},
                {"value": "a", "label": "A"},
                {"value": "a", "label": "B"},
            ],
            "allow_other": True,
        },
        {"key": "flag", "text": "Flag?", "kind": "yes_no", "allow_other": True},
    ]

    with pytest.raises(TemplateFileError) as refused:
        template_load(path=write(tmp_path, bad))

    assert refused.value.problems == [
        "question more: show_if names 'name', a text question: only yes_no and choice answers can be tested",
        "question odd, choice 1: the value 'other' is reserved for allow_other",
        "question odd, choice 3: duplicate choice value 'a'",
        "question flag: allow_other is only for single_choice and multiple_choice questions, not yes_no",
    ]


def test_a_file_that_is_not_json_is_refused(tmp_path):
    with pytest.raises(TemplateFileError) as refused:
        template_load(path=write(tmp_path, '{"slug": "x",'))

    assert refused.value.problems == [
        "is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 14 (char 13)"
    ]
    assert str(refused.value).startswith("small.json: 1 problem(s); nothing was loaded")


def test_the_command_loads_every_file_and_says_created_or_unchanged():
    out = io.StringIO()
    call_command("load_questionnaire_templates", stdout=out)
    call_command("load_questionnaire_templates", stdout=out)

    assert out.getvalue().splitlines() == [
        "vm_discovery.json: vm-discovery v1 created",
        "vm_discovery.json: vm-discovery v1 unchanged",
    ]


def test_the_command_names_the_problems_of_a_bad_file(tmp_path):
    good = write(tmp_path, SMALL)
    bad = write(tmp_path, {**SMALL, "slug": "Bad Slug"}, name="bad.json")
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match=r"^1 template file\(s\) not loaded\.$"):
        call_command("load_questionnaire_templates", str(bad), str(good), stdout=out, stderr=err)

    assert err.getvalue().splitlines() == [
        "bad.json: template: slug 'Bad Slug' may hold only lower-case letters, digits, '-' and '_'"
    ]
    assert out.getvalue().splitlines() == ["small.json: small v1 created"]
