"""Read queries of the questionnaires app: assignments a user may see, progress of a campaign.

Progress is computed from one query of the campaign's ``(id, parent_id, status)``
rows, aggregated in Python: bounded whatever the size of the tree (5,000 rows
are a few milliseconds), and the same rows serve the whole campaign, any
subtree and the drill-down of a branch.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from inventory.models import VirtualMachine
from inventory.selectors import ESTATE_WIDE_ROLES, vm_scoped
from portal.choices import OVERSIGHT_ROLES
from portal.db import chunked
from portal.models import Person, User
from portal.selectors import person_for_user, person_subtree, person_subtree_ids
from portal.trees import subtree
from questionnaires.choices import OPEN_STATUSES, AssignmentStatus, CampaignStatus, ReconciliationState
from questionnaires.models import (
    Answer,
    Assignment,
    Campaign,
    DeclaredVM,
    Question,
    QuestionnaireTemplate,
    ReconciliationItem,
    ReconciliationRun,
    Section,
    TemplateVersion,
)
from questionnaires.services.answers import question_is_visible


def _empty_counts() -> dict[str, int]:
    counts = {status.value: 0 for status in AssignmentStatus}
    counts.update(overdue=0, total=0)
    return counts


def _finish(counts: dict[str, int]) -> dict[str, int]:
    """Add the share done (accepted) in whole percent, for progress bars."""
    total = counts["total"]
    counts["percent_accepted"] = round(100 * counts[AssignmentStatus.ACCEPTED] / total) if total else 0
    return counts


def _is_overdue(campaign: Campaign, today: datetime.date) -> bool:
    return campaign.status != CampaignStatus.DRAFT and campaign.due_date < today


@dataclass
class _CampaignTree:
    """A campaign's assignments as a tree of ids, loaded in one query."""

    status: dict[int, str] = field(default_factory=dict)
    children: dict[int | None, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_person: dict[int, int] = field(default_factory=dict)

    @classmethod
    def load(cls, campaign: Campaign) -> "_CampaignTree":
        tree = cls()
        rows = Assignment.objects.filter(campaign=campaign).values_list("id", "parent_id", "status", "person_id")
        for assignment_id, parent_id, status, person_id in rows:
            tree.status[assignment_id] = status
            tree.children[parent_id].append(assignment_id)
            tree.by_person[person_id] = assignment_id
        return tree

    def subtree(self, root_id: int) -> list[int]:
        return subtree(self.children, root_id)

    def counts(self, ids, *, overdue: bool) -> dict[str, int]:
        counts = _empty_counts()
        for assignment_id in ids:
            status = self.status[assignment_id]
            counts[status] += 1
            counts["total"] += 1
            if overdue and status in OPEN_STATUSES:
                counts["overdue"] += 1
        return _finish(counts)

    def node(self, assignment: Assignment, *, overdue: bool) -> dict:
        """One node of the drill-down: the assignment, the counts of its subtree and whether it has parts below."""
        return {
            "assignment": assignment,
            "counts": self.counts(self.subtree(assignment.pk), overdue=overdue),
            "has_children": bool(self.children.get(assignment.pk)),
        }


def campaign_progress(
    *, campaign: Campaign, root_person: Person | None = None, today: datetime.date | None = None
) -> dict[str, int]:
    """Assignments by status (``not_started``, ``in_progress``, ``submitted``, ``returned``, ``accepted``), plus
    ``overdue`` (open past the due date), ``total`` and ``percent_accepted``.

    For the whole campaign, or for what ``root_person`` answers for: their assignment and everything delegated
    below it (zeros when they have no part in the campaign). One query either way.
    """
    overdue = _is_overdue(campaign, today or timezone.localdate())
    tree = _CampaignTree.load(campaign)
    if root_person is None:
        return tree.counts(tree.status, overdue=overdue)
    root_id = tree.by_person.get(root_person.pk)
    if root_id is None:
        return _finish(_empty_counts())
    return tree.counts(tree.subtree(root_id), overdue=overdue)


def assignment_children_progress(*, assignment: Assignment, today: datetime.date | None = None) -> list[dict]:
    """The drill-down of one branch: each part delegated from ``assignment``, with the counts of its own subtree.

    Each item: ``assignment`` (with person loaded), ``counts`` (as ``campaign_progress``) and ``has_children``.
    Two queries whatever the size of the branch.
    """
    campaign = assignment.campaign
    overdue = _is_overdue(campaign, today or timezone.localdate())
    tree = _CampaignTree.load(campaign)
    children = (
        Assignment.objects.filter(parent=assignment).select_related("person", "reviewed_by").order_by("person__name")
    )
    return [tree.node(child, overdue=overdue) for child in children]


def _assignment_list() -> QuerySet[Assignment]:
    return Assignment.objects.select_related("campaign", "person", "parent__person").order_by(
        "campaign__due_date", "person__name"
    )


def assignments_for_user(user: User) -> QuerySet[Assignment]:
    """The user's own assignments, in every campaign, soonest due first."""
    return _assignment_list().filter(person__user=user)


def assignments_in_subtree(user: User, *, include_own: bool = False) -> QuerySet[Assignment]:
    """Assignments of the people below the user in the chain of command (none if the user is no person).

    One query: the subtree is a recursive subquery.
    """
    person = person_for_user(user=user)
    if person is None:
        return Assignment.objects.none()
    people = person_subtree(person=person, include_self=include_own).values("id")
    return _assignment_list().filter(person_id__in=people)


def assignments_visible_to(user: User) -> QuerySet[Assignment]:
    """What a user may read: everything for oversight roles; otherwise their own and their subtree's."""
    if user.has_role(*OVERSIGHT_ROLES):
        return _assignment_list()
    return assignments_in_subtree(user, include_own=True)


# --- pages: campaigns, an assignment's questionnaire, exports, area mappings ---------------------------------------


@dataclass
class CampaignAccess:
    """What a user sees of a campaign: all of it (``whole``), or the subtree of their own ``assignment``."""

    whole: bool
    assignment: Assignment | None = None


def campaigns_visible_to(user: User) -> QuerySet[Campaign]:
    """Every campaign for oversight roles; otherwise those in which the user has a part. Newest first."""
    campaigns = Campaign.objects.select_related("version__template", "scope", "owner").order_by("-created_at", "-id")
    if user.has_role(*OVERSIGHT_ROLES):
        return campaigns
    return campaigns.filter(pk__in=Assignment.objects.filter(person__user=user).values("campaign_id"))


def campaign_status_counts(*, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Assignments by status for each campaign (``total`` and ``percent_accepted`` too), in one query."""
    counts: dict[int, dict[str, int]] = defaultdict(_empty_counts)
    rows = (
        Assignment.objects.filter(campaign_id__in=campaign_ids)
        .values_list("campaign_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for campaign_id, status, number in rows:
        counts[campaign_id][status] += number
        counts[campaign_id]["total"] += number
    return {campaign_id: _finish(value) for campaign_id, value in counts.items()}


def campaign_access(*, campaign: Campaign, user: User) -> CampaignAccess | None:
    """All of the campaign for oversight roles, the user's own part and below for a participant, else None."""
    if user.has_role(*OVERSIGHT_ROLES):
        return CampaignAccess(whole=True)
    assignment = (
        Assignment.objects.filter(campaign=campaign, person__user=user).select_related("person", "reviewed_by").first()
    )
    return CampaignAccess(whole=False, assignment=assignment) if assignment else None


def campaign_reach(*, scope: Person, cascade: bool) -> QuerySet[Person]:
    """Who a campaign over ``scope`` asks at launch: the active people of the scope's subtree when it cascades,
    else the head of the scope alone (as ``campaign_launch`` assigns them)."""
    people = person_subtree(person=scope) if cascade else Person.objects.filter(pk=scope.pk)
    return people.filter(active=True)


def campaign_overlaps(*, scope: Person, cascade: bool, exclude: Campaign | None = None) -> list[dict]:
    """Active campaigns in which people a new campaign would ask already have a part: ``campaign`` and how many
    ``people``, most first. One query."""
    rows = (
        Assignment.objects.filter(campaign__status=CampaignStatus.ACTIVE,
                                  person_id__in=campaign_reach(scope=scope, cascade=cascade).values("id"))
        .exclude(campaign=exclude)
        .values("campaign_id", "campaign__name")
        .annotate(people=Count("id"))
        .order_by("-people", "campaign__name")
    )
    return [{"campaign_id": row["campaign_id"], "name": row["campaign__name"], "people": row["people"]}
            for row in rows]


def campaign_progress_tree(
    *, campaign: Campaign, root: Assignment | None = None, today: datetime.date | None = None
) -> dict:
    """The progress page in three queries: ``counts`` (as ``campaign_progress``) for the whole campaign or for
    ``root`` and below, and ``nodes``, the top of the drill-down (the heads of the campaign, or ``root``), each
    as an item of ``assignment_children_progress``."""
    overdue = _is_overdue(campaign, today or timezone.localdate())
    tree = _CampaignTree.load(campaign)
    if root is None:
        ids: list[int] = list(tree.status)
        tops = list(
            Assignment.objects.filter(campaign=campaign, parent__isnull=True)
            .select_related("person", "reviewed_by")
            .order_by("person__name")
        )
    else:
        ids = tree.subtree(root.pk)
        tops = [root]
    nodes = [tree.node(top, overdue=overdue) for top in tops]
    return {"counts": tree.counts(ids, overdue=overdue), "nodes": nodes}


def assignment_visible(*, user: User, pk: int) -> Assignment | None:
    """One assignment the user may read (see ``assignments_visible_to``), with what its page shows; else None."""
    return (
        assignments_visible_to(user)
        .select_related(
            "campaign__owner", "campaign__version__template", "campaign__scope", "reviewed_by", "parent__person__user"
        )
        .filter(pk=pk)
        .first()
    )


def assignments_awaiting_review(user: User) -> QuerySet[Assignment]:
    """Submitted parts the user reviews: delegated from one of their assignments, or the heads of their campaigns."""
    return _assignment_list().filter(
        Q(parent__person__user=user) | Q(parent__isnull=True, campaign__owner=user),
        status=AssignmentStatus.SUBMITTED,
        campaign__status=CampaignStatus.ACTIVE,
    )


def assignment_parts_below(*, assignment: Assignment) -> list[Assignment]:
    """The parts delegated further below ``assignment`` that are not accepted yet, with their people, by name:
    what answering it for its assignee covers too. One query of the tree, then one per batch of ids."""
    below = _CampaignTree.load(assignment.campaign).subtree(assignment.pk)[1:]
    parts: list[Assignment] = []
    for ids in chunked(below):
        parts.extend(
            Assignment.objects.filter(id__in=ids).exclude(status=AssignmentStatus.ACCEPTED).select_related("person")
        )
    return sorted(parts, key=lambda part: (part.person.name, part.pk))


def assignment_delegation_candidates(*, assignment: Assignment) -> QuerySet[Person]:
    """The assignee's active direct reports who have no part of the campaign yet."""
    taken = Assignment.objects.filter(campaign_id=assignment.campaign_id).values("person_id")
    return Person.objects.filter(parent_id=assignment.person_id, active=True).exclude(pk__in=taken).order_by("name")


def assignment_held_sections(*, assignment: Assignment) -> list[Section]:
    """The sections the assignment answers: those delegated to it, or every section of the campaign's version."""
    held = list(assignment.sections.order_by("order"))
    return held or list(Section.objects.filter(version_id=assignment.campaign.version_id).order_by("order"))


@dataclass
class QuestionState:
    """A question as an assignment's page shows it: the saved answer, whether it is shown, a VM list's rows."""

    question: Question
    value: Any = None
    other_text: str = ""
    visible: bool = True
    vm_rows: list[DeclaredVM] = field(default_factory=list)

    @property
    def chosen(self) -> list[str]:
        """The answer as a list of values, for ticking radios and checkboxes."""
        if self.value is None:
            return []
        return [str(item) for item in self.value] if isinstance(self.value, list) else [str(self.value)]


@dataclass
class SectionState:
    section: Section
    questions: list[QuestionState]
    # The parts below that this section was delegated to (``section_delegations``): their people answer it.
    delegated_to: list[Assignment] = field(default_factory=list)

    @property
    def visible_questions(self) -> list[QuestionState]:
        return [state for state in self.questions if state.visible]

    def visible_keys(self) -> frozenset[str]:
        return frozenset(state.question.key for state in self.questions if state.visible)


def assignment_questionnaire(*, assignment: Assignment) -> list[SectionState]:
    """The sections the assignment holds, in order, each question with its saved answer, whether it is shown
    (``question_is_visible``, as the check before submission decides it) and a VM list's rows.

    Five queries whatever the size of the questionnaire or of the lists.
    """
    held_ids = set(assignment.sections.values_list("id", flat=True))
    sections = list(Section.objects.filter(version_id=assignment.campaign.version_id).order_by("order"))
    questions = list(Question.objects.filter(section__version_id=assignment.campaign.version_id).order_by("order"))
    by_id = {question.pk: question for question in questions}
    for question in questions:  # fill the FK cache so visibility costs no query
        if question.show_if_question_id is not None:
            question.show_if_question = by_id[question.show_if_question_id]
    outside = frozenset(q.key for q in questions if held_ids and q.section_id not in held_ids)
    answers = {answer.question_id: answer for answer in Answer.objects.filter(assignment=assignment)}
    values = {by_id[qid].key: answer.value for qid, answer in answers.items() if qid in by_id}
    rows: dict[int, list[DeclaredVM]] = defaultdict(list)
    for declared in DeclaredVM.objects.filter(assignment=assignment).order_by("question_id", "row"):
        rows[declared.question_id].append(declared)
    states: list[SectionState] = []
    for section in sections:
        if held_ids and section.pk not in held_ids:
            continue
        section_questions = []
        for question in (q for q in questions if q.section_id == section.pk):
            answer = answers.get(question.pk)
            section_questions.append(
                QuestionState(
                    question=question,
                    value=answer.value if answer else None,
                    other_text=answer.other_text if answer else "",
                    visible=question_is_visible(question, values, outside_keys=outside),
                    vm_rows=rows.get(question.pk, []),
                )
            )
        states.append(SectionState(section=section, questions=section_questions))
    return states


def section_delegations(*, sections: list[SectionState], children: list[Assignment]) -> list[SectionState]:
    """Say on each section to whom it was delegated: the parts below that were given that section by name. A part
    given the whole questionnaire answers for its own area (as in a cascade), so it is not named on each section.
    ``children`` are the parts delegated from the assignment, with ``sections`` prefetched."""
    for state in sections:
        state.delegated_to = [
            child for child in children if any(held.pk == state.section.pk for held in child.sections.all())
        ]
    return sections


def assignment_children(*, assignment: Assignment) -> list[Assignment]:
    """The parts delegated from ``assignment``, with their people and sections, by name; two queries."""
    return list(
        Assignment.objects.filter(parent=assignment).select_related("person").prefetch_related("sections")
        .order_by("person__name")
    )


def declared_vm_list(*, assignment: Assignment, question: Question) -> QuerySet[DeclaredVM]:
    """The rows of one VM list of an assignment, in list order."""
    return DeclaredVM.objects.filter(assignment=assignment, question=question).order_by("row")


def campaign_export_assignments(*, campaign: Campaign, user: User) -> QuerySet[Assignment]:
    """The assignments of a campaign whose answers the user may export (all, or their own subtree's)."""
    return assignments_visible_to(user).filter(campaign=campaign)


def campaign_export_declared_vms(*, campaign: Campaign, user: User) -> QuerySet[DeclaredVM]:
    """Declared VMs of the exportable assignments, by assignee then row; one query, streamable."""
    visible = campaign_export_assignments(campaign=campaign, user=user).values("id")
    return (
        DeclaredVM.objects.filter(assignment_id__in=visible)
        .select_related("assignment__person", "question")
        .order_by("assignment__person__name", "assignment_id", "question__order", "row")
    )


def campaign_export_answers(*, campaign: Campaign, user: User) -> QuerySet[Answer]:
    """Answers (not VM lists) of the exportable assignments, by assignee then questionnaire order; one query."""
    visible = campaign_export_assignments(campaign=campaign, user=user).values("id")
    return (
        Answer.objects.filter(assignment_id__in=visible)
        .select_related("assignment__person", "question__section")
        .order_by("assignment__person__name", "assignment_id", "question__section__order", "question__order")
    )


def template_list() -> QuerySet[QuestionnaireTemplate]:
    """Templates with every version, section and question in five queries, whatever their number."""
    return QuestionnaireTemplate.objects.prefetch_related(
        Prefetch("versions", queryset=TemplateVersion.objects.order_by("-number")),
        Prefetch("versions__sections", queryset=Section.objects.order_by("order")),
        Prefetch(
            "versions__sections__questions",
            queryset=Question.objects.select_related("show_if_question").order_by("order"),
        ),
    ).order_by("name", "id")


def template_versions_launchable() -> QuerySet[TemplateVersion]:
    """Template versions that have something to answer, newest of each template first."""
    return (
        TemplateVersion.objects.filter(pk__in=Section.objects.values("version_id"))
        .select_related("template")
        .order_by("template__name", "-number")
    )


def dashboard_cards(*, user: User) -> list[dict]:
    """What the dashboard tells each person about questionnaires: their own open parts with the nearest due
    date, the parts waiting for their review and, for oversight roles, the active campaigns' overdue parts."""
    cards = []
    my_url = reverse("questionnaires:my")
    own_open = assignments_for_user(user).filter(
        status__in=OPEN_STATUSES, campaign__status=CampaignStatus.ACTIVE
    ).order_by("campaign__due_date")
    next_due = own_open.values_list("campaign__due_date", flat=True).first()
    if next_due is not None or Person.objects.filter(user=user).exists():
        cards.append({
            "label": "Your questionnaires to answer", "value": own_open.count(), "url": my_url, "priority": 0,
            "note": f"next due {next_due:%d %b %Y}" if next_due else "nothing to answer now",
        })
        to_review = assignments_awaiting_review(user).count()
        cards.append({
            "label": "Parts waiting for your review", "value": to_review, "url": my_url, "priority": 0,
            "note": "accept them or return them with a comment" if to_review else "nothing to review now",
        })
    if user.has_role(*OVERSIGHT_ROLES):
        today = timezone.localdate()
        active = Campaign.objects.filter(status=CampaignStatus.ACTIVE)
        overdue = Assignment.objects.filter(
            campaign__in=active, campaign__due_date__lt=today,
            status__in=OPEN_STATUSES,
        ).count()
        cards.append({
            "label": "Active campaigns", "value": active.count(), "url": reverse("questionnaires:campaign_list"),
            "note": f"{overdue} part{'s' if overdue != 1 else ''} overdue",
        })
    return cards


# --- reconciliation ---------------------------------------------------------------------------------------------


def _item_person(declarer_id: int | None, routed_to_id: int | None) -> int | None:
    """Whose part of the organisation an item belongs to: its declarer's, else (undeclared) its routed person's."""
    return declarer_id or routed_to_id


# What a row of a list of items shows, joined in the query that loads them.
ITEM_RELATED = ("campaign", "vm", "declared_vm__assignment", "declarer", "routed_to", "resolved_by", "linked_vm")


def reconciliation_items_visible_to(user: User, *, campaign: Campaign | None = None) -> QuerySet[ReconciliationItem]:
    """Items the user may read, with what a list shows: every item for the roles that see the whole estate;
    for anybody else the items declared by, or routed to, somebody in their part of the organisation.

    That part is read once, here: the queries built on the result (counts, a page, the figures) name its people
    rather than run the recursive query of the org chart again, each twice.
    """
    items = ReconciliationItem.objects.select_related(*ITEM_RELATED).order_by("state", "id")
    if campaign is not None:
        items = items.filter(campaign=campaign)
    if user.has_role(*ESTATE_WIDE_ROLES):
        return items
    person = person_for_user(user=user)
    if person is None:
        return items.none()
    part = person_subtree_ids(person=person)
    return items.filter(Q(declarer_id__in=part) | Q(routed_to_id__in=part))


def reconciliation_items_page(ids: list[int]) -> list[ReconciliationItem]:
    """The items of one page of a list, in the list's order, with what a row shows, in one query.

    A list chooses its page by ids first (a narrow query that sorts only what the order needs), then loads those:
    sorting every joined row of a 100,000-item campaign to show 50 of them is what makes a page slow.
    """
    by_id = ReconciliationItem.objects.select_related(*ITEM_RELATED).in_bulk(ids)
    return [by_id[pk] for pk in ids if pk in by_id]


def reconciliation_latest_run(*, campaign: Campaign) -> ReconciliationRun | None:
    return campaign.reconciliation_runs.select_related("requested_by").order_by("-started_at", "-id").first()


def _state_counts() -> dict:
    counts: dict = {state.value: 0 for state in ReconciliationState}
    counts.update(total=0, open=0, resolved=0, resolved_by_state={state.value: 0 for state in ReconciliationState})
    return counts


def _chain_down(top: int, head: int, parents: dict[int, int | None]) -> list[int] | None:
    """The people from ``top`` down to ``head`` (both included), or None when ``head`` is not in top's part."""
    chain: list[int] = []
    current: int | None = head
    while current is not None and current not in chain:
        chain.append(current)
        if current == top:
            return list(reversed(chain))
        current = parents.get(current)
    return None


def reconciliation_summary(
    *, campaign: Campaign, user: User, head: int | None = None, items: QuerySet[ReconciliationItem] | None = None
) -> dict:
    """The reconciliation page's figures in five queries, whatever the size of the campaign.

    ``counts`` per state (plus ``total``, ``open``: waiting for an answer, ``resolved``, and
    ``resolved_by_state``) of the items the user may read; ``people``: the heads of the drill-down (the head of
    the scope for the whole campaign, else the user's direct reports) with the counts of their part of the
    organisation. With ``head`` (a person id) the figures are of that person's part and the drill-down is their
    direct reports; ``own`` then counts the items of that person themselves and ``path`` names the people from the
    top of the user's view down to them (only them, when they are outside it).
    ``items`` are the user's readable items of the campaign, when the caller has them already.
    """
    if items is None:
        items = reconciliation_items_visible_to(user, campaign=campaign)
    rows = (
        items.order_by().values_list("state", "resolution", "declarer_id", "routed_to_id")
        .annotate(number=Count("id"))
    )
    parents = dict(Person.objects.order_by().values_list("id", "parent_id"))
    viewer = None if user.has_role(*ESTATE_WIDE_ROLES) else person_for_user(user=user)
    view_top = viewer.pk if viewer else campaign.scope_id
    # A person outside the user's view narrows it all the same (to what of their part the user reads: often nothing).
    path = (_chain_down(view_top, head, parents) or [head]) if head is not None else None
    top = head if path else view_top
    heads = [pk for pk, parent in parents.items() if parent == top] if path or viewer else [top]
    counts = _state_counts()
    own = _state_counts()
    per_head = {pk: _state_counts() for pk in heads}
    targets_of: dict[int | None, list[dict]] = {}  # each person's rows of figures, found once per person
    for state, resolution, declarer_id, routed_to_id, number in rows:
        person_id = _item_person(declarer_id, routed_to_id)
        if person_id not in targets_of:
            if path and (person_id is None or _chain_down(top, person_id, parents) is None):
                targets_of[person_id] = []  # outside the chosen person's part
            else:
                own_row = [own] if (path or viewer) and person_id == top else []
                targets_of[person_id] = [counts, *_heads_above(person_id, per_head, parents), *own_row]
        for target in targets_of[person_id]:
            target[state] += number
            target["total"] += number
            if resolution:
                target["resolved"] += number
                target["resolved_by_state"][state] += number
            elif state != ReconciliationState.MATCHED:
                target["open"] += number
    names = dict(Person.objects.filter(pk__in=[*heads, top, *(path or [])]).values_list("pk", "name"))
    managers = set(parents.values())
    people = sorted(
        ({"person_id": pk, "name": names.get(pk, ""), "counts": per_head[pk], "has_reports": pk in managers}
         for pk in heads if per_head[pk]["total"]),
        key=lambda row: row["name"],
    )
    return {
        "counts": counts, "people": people, "run": reconciliation_latest_run(campaign=campaign),
        "head": top if path else None,
        "path": [{"person_id": pk, "name": names.get(pk, "")} for pk in path or []],
        "own": {"person_id": top, "name": names.get(top, ""), "counts": own} if own["total"] else None,
    }


def _heads_above(person_id: int | None, per_head: dict[int, dict], parents: dict[int, int | None]) -> list[dict]:
    """The drill-down rows an item counts in: the head whose part of the organisation holds its person."""
    seen: set[int] = set()
    while person_id is not None and person_id not in seen:
        if person_id in per_head:
            return [per_head[person_id]]
        seen.add(person_id)
        person_id = parents.get(person_id)
    return []


def follow_ups_for_user(user: User) -> QuerySet[ReconciliationItem]:
    """The gaps routed to the user to answer, across campaigns: unanswered first, newest campaign first."""
    person = person_for_user(user=user)
    if person is None:
        return ReconciliationItem.objects.none()
    return (
        ReconciliationItem.objects.filter(routed_to=person)
        .exclude(state=ReconciliationState.MATCHED)
        .select_related("campaign", "vm", "declared_vm__assignment", "declarer", "linked_vm", "resolved_by")
        .order_by(F("resolved_at").asc(nulls_first=True), "-campaign__created_at", "state", "id")
    )


def reconciliation_items_for_vm(*, vm, user: User) -> list[ReconciliationItem]:
    """What the campaigns say of one VM: its declarations and their state, newest campaign first."""
    items = reconciliation_items_visible_to(user).filter(vm=vm).select_related("declared_vm__assignment__person")
    return list(items.order_by("-campaign__created_at", "id"))


def reconciliation_open_count(*, campaign: Campaign, user: User) -> int:
    """Items of the campaign the user may read that wait for an answer: the count on the campaign page's link."""
    items = reconciliation_items_visible_to(user, campaign=campaign)
    return items.filter(resolution="").exclude(state=ReconciliationState.MATCHED).count()


def reconciliation_items_in_part(items: QuerySet[ReconciliationItem], *, person: Person | int) -> QuerySet:
    """``items`` of one person's part of the organisation: declared by somebody in it or, undeclared, routed to
    somebody in it (the rule the drill-down counts by)."""
    part = person_subtree_ids(person=person)
    return items.filter(Q(declarer_id__in=part) | Q(declarer__isnull=True, routed_to_id__in=part))


def reconciliation_candidates(*, items: list[ReconciliationItem], user: User) -> dict[int, VirtualMachine]:
    """The VMs the items might be, by id, of those the user may read: one query for a page of items."""
    ids = {vm_id for item in items for vm_id in item.candidates}
    if not ids:
        return {}
    vms = vm_scoped(VirtualMachine.objects.filter(pk__in=ids), user).only("id", "name", "status").order_by("name")
    return {vm.pk: vm for vm in vms}


def reconciliation_runs_visible_to(user: User) -> QuerySet[ReconciliationRun]:
    """Runs of the campaigns the user may read (every one for the roles that see the whole estate), newest
    first, with who asked for them."""
    runs = ReconciliationRun.objects.select_related("campaign", "requested_by").order_by("-started_at", "-id")
    if user.has_role(*ESTATE_WIDE_ROLES):
        return runs
    return runs.filter(campaign__in=campaigns_visible_to(user).values("pk"))


def follow_ups_open_count(user: User) -> int:
    """Gaps routed to the user that wait for their answer, across campaigns; one query."""
    return (
        ReconciliationItem.objects.filter(routed_to__user=user, resolution="")
        .exclude(state=ReconciliationState.MATCHED)
        .count()
    )


def follow_ups_for_assignment(*, assignment: Assignment) -> QuerySet[ReconciliationItem]:
    """The gaps of the assignment's campaign routed to its assignee and not answered yet."""
    return (
        ReconciliationItem.objects.filter(campaign_id=assignment.campaign_id, routed_to_id=assignment.person_id,
                                          resolution="")
        .exclude(state=ReconciliationState.MATCHED)
        .select_related("vm", "declared_vm")
        .order_by("state", "id")
    )


def navigation_badges(*, user: User) -> dict:
    """The count beside "Follow-ups" in the navigation (see ``portal.selectors.app_navigation_badges``)."""
    return {"questionnaires:follow_ups": lambda: follow_ups_open_count(user)}


def vm_panels(*, vm, user: User) -> list[dict]:
    """The VM page's "Declared in campaigns" panel (see ``portal.selectors.app_vm_panels``): what each campaign
    the user may read says of the VM, with the state reconciliation found and how it matched."""
    return [{
        "title": "Declared in campaigns",
        "template": "questionnaires/_vm_declarations.html",
        "items": reconciliation_items_for_vm(vm=vm, user=user),
    }]


def vm_policy_facts(*, kinds: frozenset[str]) -> dict[str, dict[int, dict]]:
    """What reconciliation says for the inventory's ``undeclared`` and ``running_but_decommissioned`` policies
    (see ``inventory.services.policies.estate_facts``): of each VM, the newest unresolved item of a campaign that
    ran (active or closed), with its evidence. One query."""
    wanted = {"undeclared", "running_but_decommissioned"} & set(kinds)
    if not wanted:
        return {}
    items = (
        ReconciliationItem.objects.filter(resolution="", vm__isnull=False)
        .exclude(campaign__status=CampaignStatus.DRAFT)
        .exclude(state=ReconciliationState.MATCHED)
        .order_by("vm_id", "-campaign_id")
        .values("vm_id", "state", "reasons", "campaign_id", "campaign__name")
    )
    found: dict[str, dict[int, dict]] = {kind: {} for kind in wanted}
    seen: set[int] = set()
    for item in items:
        if item["vm_id"] in seen:
            continue
        seen.add(item["vm_id"])
        evidence = {"campaign": item["campaign__name"], "campaign_id": item["campaign_id"]}
        codes = {reason.get("code") for reason in item["reasons"] or []}
        if "undeclared" in wanted and item["state"] == ReconciliationState.UNDECLARED:
            found["undeclared"][item["vm_id"]] = {
                **evidence, "summary": f"nobody declared it in {evidence['campaign']}"}
        if "running_but_decommissioned" in wanted and "running_but_decommissioned" in codes:
            found["running_but_decommissioned"][item["vm_id"]] = {
                **evidence, "summary": f"declared decommissioned in {evidence['campaign']}, but powered on"}
    return found
