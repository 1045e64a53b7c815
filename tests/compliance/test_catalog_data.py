"""The shipped catalogs against the rules they transcribe.

The HIPAA list below is typed from the section text of 45 CFR 164.308-164.316 (as amended by 78 FR 5694,
2013), independently of compliance/data/hipaa.csv: every standard and implementation specification with its
title and its "(Required)" / "(Addressable)" label. The counts are HHS's Appendix A to Subpart C.
"""

from collections import Counter

import pytest

from compliance.choices import Implementation, RequirementKind
from compliance.models import Mapping, Requirement
from compliance.selectors import latest_versions

pytestmark = pytest.mark.django_db

STD, R, A = "standard", "required", "addressable"

# (citation, title, R / A for implementation specifications, "standard" for standards), in the rule's order.
HIPAA_RULE = [
    ("164.308(a)(1)(i)", "Security management process", STD),
    ("164.308(a)(1)(ii)(A)", "Risk analysis", R),
    ("164.308(a)(1)(ii)(B)", "Risk management", R),
    ("164.308(a)(1)(ii)(C)", "Sanction policy", R),
    ("164.308(a)(1)(ii)(D)", "Information system activity review", R),
    ("164.308(a)(2)", "Assigned security responsibility", STD),
    ("164.308(a)(3)(i)", "Workforce security", STD),
    ("164.308(a)(3)(ii)(A)", "Authorization and/or supervision", A),
    ("164.308(a)(3)(ii)(B)", "Workforce clearance procedure", A),
    ("164.308(a)(3)(ii)(C)", "Termination procedures", A),
    ("164.308(a)(4)(i)", "Information access management", STD),
    ("164.308(a)(4)(ii)(A)", "Isolating health care clearinghouse functions", R),
    ("164.308(a)(4)(ii)(B)", "Access authorization", A),
    ("164.308(a)(4)(ii)(C)", "Access establishment and modification", A),
    ("164.308(a)(5)(i)", "Security awareness and training", STD),
    ("164.308(a)(5)(ii)(A)", "Security reminders", A),
    ("164.308(a)(5)(ii)(B)", "Protection from malicious software", A),
    ("164.308(a)(5)(ii)(C)", "Log-in monitoring", A),
    ("164.308(a)(5)(ii)(D)", "Password management", A),
    ("164.308(a)(6)(i)", "Security incident procedures", STD),
    ("164.308(a)(6)(ii)", "Response and reporting", R),
    ("164.308(a)(7)(i)", "Contingency plan", STD),
    ("164.308(a)(7)(ii)(A)", "Data backup plan", R),
    ("164.308(a)(7)(ii)(B)", "Disaster recovery plan", R),
    ("164.308(a)(7)(ii)(C)", "Emergency mode operation plan", R),
    ("164.308(a)(7)(ii)(D)", "Testing and revision procedures", A),
    ("164.308(a)(7)(ii)(E)", "Applications and data criticality analysis", A),
    ("164.308(a)(8)", "Evaluation", STD),
    ("164.308(b)(1)", "Business associate contracts and other arrangements", STD),
    ("164.308(b)(3)", "Written contract or other arrangement", R),
    ("164.310(a)(1)", "Facility access controls", STD),
    ("164.310(a)(2)(i)", "Contingency operations", A),
    ("164.310(a)(2)(ii)", "Facility security plan", A),
    ("164.310(a)(2)(iii)", "Access control and validation procedures", A),
    ("164.310(a)(2)(iv)", "Maintenance records", A),
    ("164.310(b)", "Workstation use", STD),
    ("164.310(c)", "Workstation security", STD),
    ("164.310(d)(1)", "Device and media controls", STD),
    ("164.310(d)(2)(i)", "Disposal", R),
    ("164.310(d)(2)(ii)", "Media re-use", R),
    ("164.310(d)(2)(iii)", "Accountability", A),
    ("164.310(d)(2)(iv)", "Data backup and storage", A),
    ("164.312(a)(1)", "Access control", STD),
    ("164.312(a)(2)(i)", "Unique user identification", R),
    ("164.312(a)(2)(ii)", "Emergency access procedure", R),
    ("164.312(a)(2)(iii)", "Automatic logoff", A),
    ("164.312(a)(2)(iv)", "Encryption and decryption", A),
    ("164.312(b)", "Audit controls", STD),
    ("164.312(c)(1)", "Integrity", STD),
    ("164.312(c)(2)", "Mechanism to authenticate electronic protected health information", A),
    ("164.312(d)", "Person or entity authentication", STD),
    ("164.312(e)(1)", "Transmission security", STD),
    ("164.312(e)(2)(i)", "Integrity controls", A),
    ("164.312(e)(2)(ii)", "Encryption", A),
    ("164.314(a)(1)", "Business associate contracts or other arrangements", STD),
    ("164.314(a)(2)(i)", "Business associate contracts", R),
    ("164.314(a)(2)(ii)", "Other arrangements", R),
    ("164.314(a)(2)(iii)", "Business associate contracts with subcontractors", R),
    ("164.314(b)(1)", "Requirements for group health plans", STD),
    # (b)(2) "Implementation specifications (Required)" has no headings: the plan documents require the sponsor to ...
    ("164.314(b)(2)(i)", "Implement administrative, physical, and technical safeguards that reasonably and "
     "appropriately protect the confidentiality, integrity, and availability of the electronic protected health "
     "information that it creates, receives, maintains, or transmits on behalf of the group health plan", R),
    ("164.314(b)(2)(ii)", "Ensure that the adequate separation required by § 164.504(f)(2)(iii) is supported by "
     "reasonable and appropriate security measures", R),
    ("164.314(b)(2)(iii)", "Ensure that any agent to whom it provides this information agrees to implement "
     "reasonable and appropriate security measures to protect the information", R),
    ("164.314(b)(2)(iv)", "Report to the group health plan any security incident of which it becomes aware", R),
    ("164.316(a)", "Policies and procedures", STD),
    ("164.316(b)(1)", "Documentation", STD),
    ("164.316(b)(2)(i)", "Time limit", R),
    ("164.316(b)(2)(ii)", "Availability", R),
    ("164.316(b)(2)(iii)", "Updates", R),
]
HIPAA_SECTIONS = [
    ("164.308", "Administrative safeguards"),
    ("164.310", "Physical safeguards"),
    ("164.312", "Technical safeguards"),
    ("164.314", "Organizational requirements"),
    ("164.316", "Policies and procedures and documentation requirements"),
]


def _latest(slug: str):
    return Requirement.objects.filter(version__in=latest_versions(), version__framework__slug=slug).order_by("order")


def test_every_hipaa_standard_and_specification_has_the_rules_citation_title_and_flag(shipped_catalogs):
    loaded = [
        (r.citation, r.title, STD if r.kind == RequirementKind.STANDARD else r.implementation)
        for r in _latest("hipaa").exclude(kind=RequirementKind.SECTION)
    ]
    assert loaded == HIPAA_RULE
    sections = list(_latest("hipaa").filter(kind=RequirementKind.SECTION).values_list("citation", "title"))
    assert sections == HIPAA_SECTIONS


def test_hipaa_164_308_to_312_counts_match_appendix_a(shipped_catalogs):
    """HHS's matrix: 18 standards and 36 implementation specifications, 14 Required and 22 Addressable."""
    scope = [r for r in _latest("hipaa") if r.citation.split("(")[0] in {"164.308", "164.310", "164.312"}]
    kinds = Counter(r.kind for r in scope)
    flags = Counter(r.implementation for r in scope if r.implementation)

    assert kinds[RequirementKind.STANDARD] == 18
    assert kinds[RequirementKind.IMPLEMENTATION_SPECIFICATION] == 36
    assert flags == {Implementation.REQUIRED: 14, Implementation.ADDRESSABLE: 22}
    assert kinds[RequirementKind.SECTION] == 3


def test_hipaa_rows_hang_under_their_standard_and_section(shipped_catalogs):
    parents = {r.citation: r.parent.citation if r.parent else None for r in _latest("hipaa").select_related("parent")}

    assert parents["164.308"] is None
    assert parents["164.308(a)(1)(i)"] == "164.308"
    assert parents["164.308(a)(1)(ii)(A)"] == "164.308(a)(1)(i)"
    assert parents["164.308(b)(3)"] == "164.308(b)(1)"
    assert parents["164.314(b)(2)(iv)"] == "164.314(b)(1)"
    assert parents["164.316(b)(2)(iii)"] == "164.316(b)(1)"
    every = _latest("hipaa").values_list("source_document", flat=True)
    assert {source.split(" (")[0] for source in every} == {
        "45 CFR 164.308, 164.310, 164.312, 164.314 and 164.316"
    }


def test_hipaa_maps_to_800_53_as_nists_olir_set_for_sp_800_66r2(shipped_catalogs):
    """NIST's set SP-800-66-Rev-2-to-SP-800-53-Rev-5.1.1: 279 links from 68 Security Rule elements to 108 controls."""
    links = Mapping.objects.filter(requirement__in=_latest("hipaa"))

    assert links.count() == 279
    assert links.values("requirement").distinct().count() == 68
    assert links.values("target").distinct().count() == 108
    risk_analysis = _latest("hipaa").get(citation="164.308(a)(1)(ii)(A)")
    assert sorted(risk_analysis.mappings.values_list("target__citation", flat=True)) == ["RA-2", "RA-3"]
    assert {link.source for link in links} == {
        "NIST OLIR SP-800-66-Rev-2-to-SP-800-53-Rev-5.1.1 (CPRT, SP 800-66 Rev. 2, SP800_66_2_0_0)"
    }


def test_glba_has_elements_a_to_j_with_the_safeguards_and_incident_response_areas(shipped_catalogs):
    children = {}
    for r in _latest("glba").select_related("parent"):
        children.setdefault(r.parent.citation if r.parent else None, []).append(r.citation)

    assert children[None] == ["314.4"]
    assert children["314.4"] == [f"314.4({letter})" for letter in "abcdefghij"]
    assert children["314.4(c)"] == [f"314.4(c)({n})" for n in range(1, 9)]
    assert children["314.4(h)"] == [f"314.4(h)({n})" for n in range(1, 8)]
    assert children["314.4(a)"] == ["314.4(a)(1)", "314.4(a)(2)", "314.4(a)(3)"]
    assert children["314.4(e)"] == [f"314.4(e)({n})" for n in range(1, 5)]
    assert children["314.4(f)"] == [f"314.4(f)({n})" for n in range(1, 4)]
    assert not _latest("glba").filter(implementation__isnull=False).exists()


def test_sox_objectives_sit_in_the_four_itgc_domains_with_coso_and_pcaob_references(shipped_catalogs):
    domains = list(_latest("sox").filter(kind=RequirementKind.DOMAIN).values_list("title", flat=True))
    objectives = _latest("sox").filter(kind=RequirementKind.OBJECTIVE).select_related("parent")

    assert domains == ["Access to programs and data", "Program changes", "Program development", "Computer operations"]
    assert objectives.count() > 0
    for objective in objectives:
        assert objective.parent.kind == RequirementKind.DOMAIN
        assert "COSO 2013 Principle 11" in objective.references
        assert "PCAOB AS 2201" in objective.references


def test_every_mapping_points_at_an_800_53_control_with_its_title(shipped_catalogs):
    targets = Requirement.objects.filter(mapped_from__isnull=False).select_related("version__framework").distinct()

    assert {target.version.framework.slug for target in targets} == {"nist-800-53"}
    assert {target.kind for target in targets} <= {RequirementKind.CONTROL, RequirementKind.CONTROL_ENHANCEMENT}
    titles = dict(_latest("nist-800-53").values_list("citation", "title"))
    assert titles["AC-2"] == "Account Management"
    assert titles["CP-9(1)"] == "Testing for Reliability and Integrity"
    assert titles["IR-9"] == "Information Spillage Response"
    assert all(titles.values())
