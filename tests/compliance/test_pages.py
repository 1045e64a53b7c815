"""The framework list and a framework's requirement tree: who reads them, what they show, bounded queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from compliance.services.catalogs import catalogs_load
from portal.choices import Role
from tests.compliance.conftest import HUB_HEAD, HUB_ROWS, RULE_HEAD, RULE_ROWS, write_catalog
from tests.page_reading import links, read

pytestmark = pytest.mark.django_db

LIST_URL = reverse("compliance:framework_list")
READERS = [Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN, Role.AUDITOR, Role.ADMIN]


def detail_url(slug: str) -> str:
    return reverse("compliance:framework_detail", args=[slug])


@pytest.mark.parametrize("role", [*READERS, Role.MANAGER, "none"])
def test_compliance_officers_security_admins_auditors_and_admins_read_the_catalogs(role, small_dir, client_for):
    catalogs_load(paths=sorted(small_dir.glob("*.csv")))
    client = client_for(role)

    for url in (LIST_URL, detail_url("rule")):
        response = client.get(url)
        assert response.status_code == (200 if role in READERS else 403), (role, url)
        assert client.post(url, {}).status_code == 403
    navigation = client.get(reverse("dashboard")).context["navigation"]
    assert ("Compliance" in [item["label"] for item in navigation]) == (role in READERS)


def test_the_list_shows_each_framework_with_its_newest_version(shipped_catalogs, client_for):
    response = client_for(Role.AUDITOR).get(LIST_URL)

    html = response.content.decode()
    frameworks = response.context["frameworks"]
    assert [f.slug for f in frameworks] == ["glba", "hipaa", "sox", "nist-800-53"]
    hipaa = frameworks[1].latest
    assert (hipaa.number, hipaa.standard_count, hipaa.specification_count) == (1, 22, 46)
    assert 'data-framework="hipaa"' in html
    assert "46 implementation specifications (24 required, 22 addressable)" in html


def test_the_framework_page_shows_the_tree_with_flags_and_800_53_links(shipped_catalogs, client_for):
    response = client_for(Role.COMPLIANCE_OFFICER).get(detail_url("hipaa"))

    html = response.content.decode()
    page = read(html)
    rows = response.context["requirements"]
    assert [r.citation for r in rows[:3]] == ["164.308", "164.308(a)(1)(i)", "164.308(a)(1)(ii)(A)"]
    assert [r.depth for r in rows[:3]] == [0, 1, 2]
    risk_analysis = page.find("tr", data_citation="164.308(a)(1)(ii)(A)")
    assert "Risk analysis" in risk_analysis.text()
    assert "Required" in risk_analysis.text() and "Addressable" not in risk_analysis.text()
    assert ("RA-3", f'{detail_url("nist-800-53")}?version=1#c-RA-3') in links(risk_analysis)
    clearance = page.find("tr", data_citation="164.308(a)(3)(ii)(B)")
    assert "Addressable" in clearance.text() and "Required" not in clearance.text()
    assert "NIST OLIR SP-800-66-Rev-2-to-SP-800-53-Rev-5.1.1" in html
    assert "45 CFR Part 164, Subpart C, Appendix A" in html


def test_the_800_53_page_lists_what_maps_to_each_control(shipped_catalogs, client_for):
    response = client_for(Role.AUDITOR).get(detail_url("nist-800-53"))

    ra3 = links(read(response.content.decode()).find("tr", data_citation="RA-3"))
    assert ("HIPAA 164.308(a)(1)(ii)(A)", f'{detail_url("hipaa")}#c-164.308(a)(1)(ii)(A)') in ra3
    assert ("GLBA 314.4(b)", f'{detail_url("glba")}#c-314.4(b)') in ra3


def test_an_older_version_stays_readable(small_dir, client_for):
    catalogs_load(paths=sorted(small_dir.glob("*.csv")))
    edited = [row.replace("Risk analysis", "Risk analysis v2") for row in RULE_ROWS]
    write_catalog(small_dir, "rule.csv", RULE_HEAD, edited)
    catalogs_load(paths=sorted(small_dir.glob("*.csv")))
    client = client_for(Role.AUDITOR)

    newest, first = client.get(detail_url("rule")), client.get(detail_url("rule"), {"version": 1})

    assert newest.context["version"].number == 2 and "Risk analysis v2" in newest.content.decode()
    assert first.context["version"].number == 1
    assert "Risk analysis v2" not in first.content.decode() and "not the newest" in first.content.decode()
    assert client.get(detail_url("rule"), {"version": 9}).status_code == 404
    assert client.get(detail_url("rule"), {"version": "x"}).status_code == 404
    assert client.get(detail_url("unknown")).status_code == 404


def test_html_in_a_title_is_shown_as_text(small_dir, client_for):
    rows = [RULE_ROWS[0], RULE_ROWS[1].replace("Security management process", "<script>alert(1)</script> Security")]
    write_catalog(small_dir, "rule.csv", RULE_HEAD, rows)
    catalogs_load(paths=sorted(small_dir.glob("*.csv")))

    html = client_for(Role.AUDITOR).get(detail_url("rule")).content.decode()

    assert "&lt;script&gt;alert(1)&lt;/script&gt; Security" in html
    assert "<script>alert(1)</script>" not in html


def _queries(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_framework_page_needs_the_same_queries_for_4_or_40_requirements(tmp_path, client_for):
    client = client_for(Role.COMPLIANCE_OFFICER)
    write_catalog(tmp_path, "hub.csv", HUB_HEAD, HUB_ROWS)
    write_catalog(tmp_path, "rule.csv", RULE_HEAD, RULE_ROWS)
    catalogs_load(paths=sorted(tmp_path.glob("*.csv")))
    few = _queries(client, detail_url("rule")), _queries(client, detail_url("nist-800-53")), _queries(client, LIST_URL)

    more = [f"164.308(a)(9)({n}),164.308(a)(1)(i),implementation_specification,addressable,Spec {n},S1,AC-2 AC-3,"
            for n in range(36)]
    write_catalog(tmp_path, "rule.csv", RULE_HEAD, [*RULE_ROWS, *more])
    catalogs_load(paths=sorted(tmp_path.glob("*.csv")))

    assert len(client.get(detail_url("rule")).context["requirements"]) == 40
    assert (_queries(client, detail_url("rule")), _queries(client, detail_url("nist-800-53")),
            _queries(client, LIST_URL)) == few
