"""Questionnaire templates from JSON files: validate a file whole, then load it as a new version if it changed.

A template file (``questionnaires/data/*.json``) is one object::

    {
      "slug": "vm-discovery",                  # the template's stable key
      "name": "VM discovery",
      "description": "...",                    # optional
      "sections": [
        {
          "key": "your-area", "title": "Your area", "description": "...",   # description optional
          "questions": [
            {
              "key": "runs_vms",                # unique in the whole template
              "text": "Does your area run any virtual machines?",
              "help": "...",                    # optional
              "kind": "yes_no",                 # a QuestionKind value
              "required": true,                 # optional, false by default
              "choices": [{"value": "...", "label": "..."}],   # single_choice and multiple_choice only
              "allow_other": true,              # choice questions only: adds "other" with free text
              "show_if": {"question": "runs_vms", "value": "yes"}   # optional
            }
          ]
        }
      ]
    }

``show_if`` names an *earlier* question of kind yes_no (value "yes" or "no"),
single_choice or multiple_choice (one of its choice values, or "other"). A
question is shown when that question is shown and its answer is (or, for a
multiple choice, includes) the value.

Versions: ``template_load`` hashes the canonical JSON of the sections (every
optional field filled with its default, keys sorted) and creates a new
``TemplateVersion`` only when the hash differs from the latest version's.
Versions are never edited, so a launched campaign keeps the questions it was
launched with. The template's name and description are updated in place.
"""

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from django.db import transaction

from portal.services.audit import audit_log
from questionnaires.choices import QuestionKind
from questionnaires.models import Question, QuestionnaireTemplate, Section, TemplateVersion
from questionnaires.services.answers import NO, OTHER_VALUE, YES

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

TEMPLATE_FIELDS = {"slug", "name", "description", "sections"}
SECTION_FIELDS = {"key", "title", "description", "questions"}
QUESTION_FIELDS = {"key", "text", "help", "kind", "required", "choices", "allow_other", "show_if"}
CHOICE_KINDS = {QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE}
# Kinds whose answer a show_if can test.
CONDITION_KINDS = {QuestionKind.YES_NO, *CHOICE_KINDS}
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
# Lengths of the model fields the values go to.
KEY_MAX = 100
NAME_MAX = 200
QUESTION_TEXT_MAX = 500
CHOICE_VALUE_MAX = 200


class TemplateFileError(Exception):
    """A template file that cannot be loaded; ``problems`` names every one, nothing was written."""

    def __init__(self, file_name: str, problems: list[str]):
        self.file_name = file_name
        self.problems = problems
        super().__init__(f"{file_name}: {len(problems)} problem(s); nothing was loaded: " + "; ".join(problems))


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}" if where else message)

    def text(self, data: dict, name: str, where: str, *, required: bool, max_length: int | None = None) -> str:
        value = data.get(name, "")
        if not isinstance(value, str):
            self.add(where, f"{name} must be a string")
            return ""
        value = value.strip()
        if required and not value:
            self.add(where, f"{name} is required")
        if max_length and len(value) > max_length:
            self.add(where, f"{name} is longer than {max_length} characters")
        return value

    def key(self, data: dict, where: str) -> str:
        key = self.text(data, "key", where, required=True, max_length=KEY_MAX)
        if key and not KEY_PATTERN.fullmatch(key):
            self.add(where, f"key {key!r} may hold only lower-case letters, digits, '-' and '_'")
        return key

    def unknown_fields(self, data: dict, allowed: set[str], where: str) -> None:
        for name in sorted(set(data) - allowed):
            self.add(where, f"unknown field {name!r} (expected {', '.join(sorted(allowed))})")

    def boolean(self, data: dict, name: str, where: str) -> bool:
        value = data.get(name, False)
        if not isinstance(value, bool):
            self.add(where, f"{name} must be true or false")
            return False
        return value


def _check_choices(question: dict, kind: str, where: str, check: _Checker) -> list[dict]:
    raw = question.get("choices", [])
    allow_other = question.get("allow_other", False)
    if kind not in CHOICE_KINDS:
        if raw:
            check.add(where, f"choices are only for single_choice and multiple_choice questions, not {kind}")
        if allow_other:
            check.add(where, f"allow_other is only for single_choice and multiple_choice questions, not {kind}")
        return []
    if not isinstance(raw, list) or not raw:
        check.add(where, f"a {kind} question needs a non-empty list of choices")
        return []
    choices: list[dict] = []
    seen: set[str] = set()
    for number, choice in enumerate(raw, start=1):
        at = f"{where}, choice {number}"
        if not isinstance(choice, dict):
            check.add(at, 'must be an object {"value": ..., "label": ...}')
            continue
        check.unknown_fields(choice, {"value", "label"}, at)
        value = check.text(choice, "value", at, required=True, max_length=CHOICE_VALUE_MAX)
        label = check.text(choice, "label", at, required=True, max_length=NAME_MAX)
        if value in seen:
            check.add(at, f"duplicate choice value {value!r}")
        if value == OTHER_VALUE and allow_other:
            check.add(at, f"the value {OTHER_VALUE!r} is reserved for allow_other")
        seen.add(value)
        choices.append({"value": value, "label": label})
    return choices


def _check_show_if(question: dict, where: str, earlier: dict[str, dict], check: _Checker) -> dict | None:
    show_if = question.get("show_if")
    if show_if is None:
        return None
    if not isinstance(show_if, dict) or set(show_if) != {"question", "value"}:
        check.add(where, 'show_if must be {"question": <an earlier question key>, "value": <its answer>}')
        return None
    target_key, value = show_if["question"], show_if["value"]
    if not isinstance(target_key, str) or not isinstance(value, str):
        check.add(where, "show_if question and value must be strings")
        return None
    target = earlier.get(target_key)
    if target is None:
        check.add(where, f"show_if names {target_key!r}, which is not an earlier question")
        return None
    if not target["kind"]:  # its unknown kind is reported already
        return None
    if target["kind"] not in CONDITION_KINDS:
        check.add(
            where,
            f"show_if names {target_key!r}, a {target['kind']} question: only yes_no and choice answers can be tested",
        )
        return None
    if target["kind"] == QuestionKind.YES_NO:
        allowed = [YES, NO]
    else:
        allowed = [choice["value"] for choice in target["choices"]] + ([OTHER_VALUE] if target["allow_other"] else [])
    if value not in allowed:
        check.add(where, f"show_if value {value!r} is not an answer of {target_key!r} ({', '.join(allowed)})")
        return None
    return {"question": target_key, "value": value}


def template_document_check(data: Any, *, file_name: str = "template") -> dict:
    """Check a parsed template file; return it in canonical form (every optional field filled in).

    Raises ``TemplateFileError`` listing every problem.
    """
    check = _Checker()
    if not isinstance(data, dict):
        raise TemplateFileError(file_name, ["the file must hold one JSON object with slug, name and sections"])
    check.unknown_fields(data, TEMPLATE_FIELDS, "template")
    slug = check.text(data, "slug", "template", required=True, max_length=KEY_MAX)
    if slug and not KEY_PATTERN.fullmatch(slug):
        check.add("template", f"slug {slug!r} may hold only lower-case letters, digits, '-' and '_'")
    document = {
        "slug": slug,
        "name": check.text(data, "name", "template", required=True, max_length=NAME_MAX),
        "description": check.text(data, "description", "template", required=False),
        "sections": [],
    }
    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        check.add("template", "sections must be a non-empty list")
        sections = []
    section_keys: set[str] = set()
    earlier: dict[str, dict] = {}
    for section_number, section in enumerate(sections, start=1):
        where = f"section {section_number}"
        if not isinstance(section, dict):
            check.add(where, "must be an object")
            continue
        key = check.key(section, where)
        if key:
            where = f"section {section_number} ({key})"
            if key in section_keys:
                check.add(where, f"duplicate section key {key!r}")
            section_keys.add(key)
        check.unknown_fields(section, SECTION_FIELDS, where)
        canonical_section = {
            "key": key,
            "title": check.text(section, "title", where, required=True, max_length=NAME_MAX),
            "description": check.text(section, "description", where, required=False),
            "questions": [],
        }
        questions = section.get("questions")
        if not isinstance(questions, list) or not questions:
            check.add(where, "questions must be a non-empty list")
            questions = []
        for question_number, question in enumerate(questions, start=1):
            at = f"{where}, question {question_number}"
            if not isinstance(question, dict):
                check.add(at, "must be an object")
                continue
            question_key = check.key(question, at)
            if question_key:
                at = f"question {question_key}"
                if question_key in earlier:
                    check.add(at, f"duplicate question key {question_key!r}")
            check.unknown_fields(question, QUESTION_FIELDS, at)
            kind = question.get("kind")
            if kind not in QuestionKind.values:
                check.add(at, f"unknown kind {kind!r} (expected one of {', '.join(QuestionKind.values)})")
                kind = ""
            canonical = {
                "key": question_key,
                "text": check.text(question, "text", at, required=True, max_length=QUESTION_TEXT_MAX),
                "help": check.text(question, "help", at, required=False),
                "kind": kind,
                "required": check.boolean(question, "required", at),
                "allow_other": check.boolean(question, "allow_other", at),
            }
            canonical["choices"] = _check_choices(question, kind, at, check) if kind else []
            canonical["show_if"] = _check_show_if(question, at, earlier, check)
            if question_key and question_key not in earlier:
                earlier[question_key] = canonical
            canonical_section["questions"].append(canonical)
        document["sections"].append(canonical_section)
    if check.problems:
        raise TemplateFileError(file_name, check.problems)
    return document


def template_document_read(path: Path) -> dict:
    """Read and check a template file (see the module docstring); raises ``TemplateFileError``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateFileError(path.name, [f"cannot be read: {exc}"]) from None
    except json.JSONDecodeError as exc:
        raise TemplateFileError(path.name, [f"is not valid JSON: {exc}"]) from None
    return template_document_check(data, file_name=path.name)


def template_content_hash(document: dict) -> str:
    """SHA-256 of the canonical JSON of the document's sections: what a version freezes."""
    payload = json.dumps(document["sections"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _version_create(template: QuestionnaireTemplate, number: int, document: dict, content_hash: str, file_name: str):
    version = TemplateVersion.objects.create(
        template=template, number=number, content_hash=content_hash, notes=f"Loaded from {file_name}."
    )
    questions: dict[str, Question] = {}
    for section_order, section_data in enumerate(document["sections"], start=1):
        section = Section.objects.create(
            version=version,
            key=section_data["key"],
            order=section_order,
            title=section_data["title"],
            description=section_data["description"],
        )
        for question_order, data in enumerate(section_data["questions"], start=1):
            show_if = data["show_if"]
            questions[data["key"]] = Question.objects.create(
                section=section,
                key=data["key"],
                order=question_order,
                text=data["text"],
                help_text=data["help"],
                kind=data["kind"],
                required=data["required"],
                choices=data["choices"],
                allow_other=data["allow_other"],
                show_if_question=questions[show_if["question"]] if show_if else None,
                show_if_value=show_if["value"] if show_if else "",
            )
    return version


@transaction.atomic
def template_load(*, path: Path) -> TemplateVersion:
    """Load a template file: create the template on first load, and a new version when its content changed.

    Returns the template's latest version after the load, with ``created`` set
    (as ``get_or_create`` would say) to True when this call created it. Raises
    ``TemplateFileError`` (nothing written) when the file is invalid.
    """
    document = template_document_read(path)
    content_hash = template_content_hash(document)
    template, _ = QuestionnaireTemplate.objects.select_for_update().get_or_create(
        slug=document["slug"], defaults={"name": document["name"], "description": document["description"]}
    )
    if (template.name, template.description) != (document["name"], document["description"]):
        template.name, template.description = document["name"], document["description"]
        template.save(update_fields=["name", "description"])
    latest = template.versions.order_by("-number").first()
    if latest is not None and latest.content_hash == content_hash:
        latest.created = False
        return latest
    version = _version_create(template, (latest.number + 1) if latest else 1, document, content_hash, path.name)
    audit_log(
        action="questionnaire_template.version_created",
        actor_label="system: template load",
        obj=version,
        details={"file": path.name, "number": version.number, "content_hash": content_hash},
    )
    version.created = True
    return version


def template_files(directory: Path = DATA_DIR) -> list[Path]:
    """The template files shipped with the portal, in name order."""
    return sorted(directory.glob("*.json"))
