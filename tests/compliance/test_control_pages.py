"""The control pages: the list with statuses on a date, a control's page with its chart and inputs, editing the
owner and threshold (compliance officers only, audited, refused with the field named), the framework page's
roll-up in bounded queries, the dashboard and the exports."""

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.charts import evaluation_history_svg
from compliance.choices import EvaluationTrigger
from compliance.models import Control, ControlEvaluation, EvaluationRun
from compliance.selectors import vm_panels
from compliance.services.controls import controls_load
from compliance.services.evaluation import controls_evaluate
from inventory.choices import Sanction
from portal.choices import Role
from portal.models import AuditEvent
from tests.factories import HostFactory, PersonFactory, VirtualMachineFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("compliance:control_list")


@pytest.fixture
def estate(shipped_catalogs):
    """Ten VMs on one host, eight approved, two holding ePHI; the library loaded and evaluated once, a week ago
    with none approved, then now."""
    controls_load()
    host = HostFactory(build="5969303")
    vms = [VirtualMachineFactory(host=host, sanction=Sanction.APPROVED) for _ in range(8)]
    vms += [VirtualMachineFactory(host=host, data_categories=["ephi"]) for _ in range(2)]
    week_ago = timezone.now() - datetime.timedelta(days=7)
    controls_evaluate(trigger=EvaluationTrigger.COMMAND, at=week_ago)
    controls_evaluate(trigger=EvaluationTrigger.COMMAND)
    return vms


def row(html: str, code: str) -> str:
    start = html.index(f'data-control="{code}"')
    return html[start:html.index("</tr>", start)]


def test_the_list_shows_each_control_with_its_status_per_scope(estate, client_for):
    html = client_for(Role.AUDITOR).get(LIST_URL).content.decode()

    approval = row(html, "VMC-02")
    assert "8 of 10 live VMs approved." in approval
    # Estate deficient (80 %), HIPAA deficient (0 of 2), SOX and GLBA have no VM.
    assert [part.split('"')[1] for part in approval.split("data-status=")[1:]] == [
        "deficient", "deficient", "not_evaluated", "not_evaluated"
    ]
    assert "Attestation" in row(html, "VMC-14") and "Not tested" in row(html, "VMC-14")
    assert "Evaluate now" not in html  # auditors read only


def test_the_status_on_a_past_date_is_the_one_evaluated_then(estate, client_for):
    client = client_for(Role.SECURITY_ADMIN)

    then = client.get(LIST_URL, {"on": (timezone.localdate() - datetime.timedelta(days=7)).isoformat()})
    before = client.get(LIST_URL, {"on": "2020-01-01"}).content.decode()
    bad = client.get(LIST_URL, {"on": "31/02/2026"})

    assert "8 of 10 live VMs approved." in row(then.content.decode(), "VMC-02")
    assert 'data-status="none"' in row(before, "VMC-02") and "0 effective" in before
    assert bad.status_code == 200 and "Enter a valid date." in bad.content.decode()


def test_the_list_does_not_grow_queries_with_controls_or_evaluations(estate, client_for,
                                                                   django_assert_max_num_queries):
    client = client_for(Role.COMPLIANCE_OFFICER)
    with django_assert_max_num_queries(12):
        client.get(LIST_URL)
    for _ in range(3):
        controls_evaluate(trigger=EvaluationTrigger.COMMAND)
    with django_assert_max_num_queries(12):
        assert client.get(LIST_URL).status_code == 200


def test_an_officer_evaluates_now_and_an_auditor_may_not(estate, client_for):
    runs = EvaluationRun.objects.count()
    refused = client_for(Role.AUDITOR).post(LIST_URL)
    assert refused.status_code == 403 and EvaluationRun.objects.count() == runs

    done = client_for(Role.COMPLIANCE_OFFICER).post(LIST_URL, follow=True)

    assert EvaluationRun.objects.count() == runs + 1
    assert EvaluationRun.objects.first().trigger == EvaluationTrigger.USER
    assert "Controls evaluated:" in done.content.decode()


def test_a_control_page_shows_its_history_chart_mappings_and_latest_inputs(estate, client_for):
    html = client_for(Role.AUDITOR).get(reverse("compliance:control_detail", args=["VMC-02"])).content.decode()

    assert 'data-figure="history-chart" ' in html and 'src="data:image/svg+xml;base64,' in html
    assert "HIPAA 164.308(a)(2)" in html  # reached through CM-8 / CA-6 and HIPAA's OLIR mappings
    assert "SOX IT general controls SOX-ITGC-PD-02" in html  # the direct mapping
    assert "10</td>" in html and "VMs with status present, templates excluded: id, sanction" in html
    assert 'name="threshold"' not in html  # auditors see no form


def test_the_chart_is_svg_with_the_threshold_and_no_script(estate):
    evaluations = ControlEvaluation.objects.filter(control__code="VMC-02", scope="estate")

    svg = evaluation_history_svg(evaluations, metric="approval_rate", title="VMC-02")

    assert svg.startswith("<svg") and "Threshold" in svg and "Measured" in svg
    assert "<script" not in svg and "<image" not in svg and "@import" not in svg


def test_an_officer_assigns_owner_and_threshold_and_the_change_is_audited(estate, client_for):
    owner = PersonFactory(name="Vera Owner", email="vera@example.com")
    url = reverse("compliance:control_detail", args=["VMC-02"])

    response = client_for(Role.COMPLIANCE_OFFICER).post(url, {"owner": "vera@example.com", "threshold": "75"})

    assert response.status_code == 302
    control = Control.objects.get(code="VMC-02")
    assert (control.owner, control.threshold) == (owner, 75)
    event = AuditEvent.objects.get(action="compliance.control_edited")
    assert event.details == {"before": {"owner": None, "threshold": "98.00"},
                             "after": {"owner": owner.pk, "threshold": "75"}}
    assert controls_evaluate(trigger=EvaluationTrigger.COMMAND).evaluations.get(
        control=control, scope="estate").status == "effective"  # 80 % now meets 75 %


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"owner": "", "threshold": "150"}, "threshold", "The threshold is a percentage: at most 100."),
        ({"owner": "", "threshold": "-1"}, "threshold", "Ensure this value is greater than or equal to 0."),
        ({"owner": "", "threshold": ""}, "threshold", "This field is required."),
        ({"owner": "nobody@example.com", "threshold": "90"}, "owner", "Nobody active has the e-mail"),
    ],
)
def test_a_bad_edit_names_the_field_and_changes_nothing(estate, client_for, data, field, message):
    before = list(Control.objects.values_list("code", "owner_id", "threshold"))
    events = AuditEvent.objects.count()

    response = client_for(Role.COMPLIANCE_OFFICER).post(
        reverse("compliance:control_detail", args=["VMC-02"]), data
    )

    assert response.status_code == 400
    assert message in response.context["form"].errors[field][0]
    assert list(Control.objects.values_list("code", "owner_id", "threshold")) == before
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.SECURITY_ADMIN, Role.ADMIN])
def test_only_compliance_officers_edit_a_control(estate, client_for, role):
    before = list(Control.objects.values_list("code", "owner_id", "threshold"))

    response = client_for(role).post(reverse("compliance:control_detail", args=["VMC-02"]), {"threshold": "1"})

    assert response.status_code == 403
    assert list(Control.objects.values_list("code", "owner_id", "threshold")) == before


def test_an_owner_name_with_html_is_escaped(estate, client_for):
    Control.objects.filter(code="VMC-02").update(owner=PersonFactory(name="<script>alert(1)</script>"))

    for url in (LIST_URL, reverse("compliance:control_detail", args=["VMC-02"])):
        html = client_for(Role.AUDITOR).get(url).content.decode()
        assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_evaluation_is_re_checked_from_its_page(estate, client_for):
    old = ControlEvaluation.objects.filter(control__code="VMC-06", scope="estate").order_by("evaluated_at").first()
    url = reverse("compliance:evaluation_detail", args=[old.pk])

    same = client_for(Role.AUDITOR).get(url, {"recheck": "1"}).content.decode()
    VirtualMachineFactory(host=estate[0].host, hardware_version="vmx-10")
    changed = client_for(Role.AUDITOR).get(url, {"recheck": "1"}).content.decode()

    assert 'data-same="yes"' in same and "The result stands." in same
    assert 'data-same="no"' in changed and "10 of 11 live VMs at vmx-13 or above." in changed


def test_the_framework_page_rolls_statuses_up_in_bounded_queries(estate, client_for, django_assert_max_num_queries):
    client = client_for(Role.AUDITOR)
    url = reverse("compliance:framework_detail", args=["hipaa"])
    with django_assert_max_num_queries(16):
        first = client.get(url).content.decode()
    for _ in range(3):
        controls_evaluate(trigger=EvaluationTrigger.COMMAND)
    with django_assert_max_num_queries(16):
        again = client.get(url).content.decode()

    assert first.count('data-citation="') == again.count('data-citation="') == 73
    audit = row_of(first, "164.312(b)")
    # VMC-12 (audit trail) is effective, VMC-15 (logging, an attestation) is not tested yet: not evaluated.
    assert 'data-status="not_evaluated"' in audit and "VMC-12" in audit and "VMC-15" in audit
    assert 'data-figure="rollup"' in first and "HIPAA scope (ePHI)" in first


def row_of(html: str, citation: str) -> str:
    start = html.index(f'data-citation="{citation}"')
    return html[start:html.index("</tr>", start)]


def test_the_dashboard_shows_each_regulation_and_the_trend(estate, client_for):
    html = client_for(Role.AUDITOR).get(reverse("compliance:dashboard")).content.decode()

    assert [html.count(f'data-framework="{slug}"') for slug in ("glba", "hipaa", "sox")] == [1, 1, 1]
    assert 'data-figure="trend-chart"' in html
    assert 'data-control="VMC-02"' in html  # deficient


def test_the_exports_list_every_control_with_its_status(estate, client_for):
    client = client_for(Role.AUDITOR)

    response = client.get(reverse("compliance:control_export_csv"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    xlsx = client.get(reverse("compliance:control_export_xlsx"))
    history = client.get(reverse("compliance:control_evaluations_csv", args=["VMC-02"]))

    header = next(r for r in rows if r and r[0] == "Code")
    body = rows[rows.index(header) + 1:]
    assert len(body) == Control.objects.count()
    approval = dict(zip(header, next(r for r in body if r[0] == "VMC-02"), strict=True))
    assert (approval["Status (estate)"], approval["HIPAA"], approval["SOX"]) == ("Deficient", "Deficient",
                                                                                 "Not evaluated")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "8 of 10 live VMs approved." in b"".join(history.streaming_content).decode("utf-8-sig")


@pytest.mark.parametrize(("role", "shown"), [(Role.AUDITOR, True), (Role.COMPLIANCE_OFFICER, True),
                                             (Role.MANAGER, False)])
def test_the_portal_dashboard_counts_deficient_controls_for_those_who_read_them(estate, client_for, role, shown):
    html = client_for(role).get(reverse("dashboard")).content.decode()

    deficient = ControlEvaluation.objects.filter(
        run=EvaluationRun.objects.first(), status="deficient"
    ).values("control").distinct().count()
    assert ("Deficient controls" in html) is shown
    if shown:
        start = html.index("Deficient controls")
        assert f">{deficient}<" in html[start - 400:start + 400]


def test_an_attested_result_has_nothing_to_re_check(estate, client_for):
    attested = ControlEvaluation.objects.create(
        control=Control.objects.get(code="VMC-14"), basis="attestation", evaluated_at=timezone.now(),
        status="effective", control_version=1, summary="Quarterly review done.",
    )

    response = client_for(Role.AUDITOR).get(reverse("compliance:evaluation_detail", args=[attested.pk]),
                                            {"recheck": "1"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Quarterly review done." in html and 'data-figure="recheck' not in html


def test_a_vm_page_says_which_framework_scopes_it_is_in(estate, client_for, role_users):
    ephi_vm = estate[-1]  # holds ePHI: HIPAA scope, where approval (0 of 2) is deficient

    html = client_for(Role.AUDITOR).get(reverse("inventory:vm_detail", args=[ephi_vm.pk])).content.decode()
    other = client_for(Role.AUDITOR).get(reverse("inventory:vm_detail", args=[estate[0].pk])).content.decode()

    panel = html[html.index('data-panel="compliance-scope"'):]
    assert 'data-framework="hipaa"' in panel and "VMC-02" in panel[:panel.index("</div></div>")]
    assert "outside the HIPAA, SOX and GLBA scopes" in other
    assert vm_panels(vm=ephi_vm, user=role_users[Role.MANAGER]) == []  # managers read no control status
