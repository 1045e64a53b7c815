"""Fixtures of the compliance tests: small catalog files written to a directory, and the shipped catalogs."""

from pathlib import Path

import pytest

from compliance.services.catalogs import DATA_DIR, catalogs_load

HUB_HEAD = """# framework: nist-800-53
# name: NIST SP 800-53 Rev. 5
# kind: control_catalog
# source N1: NIST SP 800-53 Rev. 5.1.1
citation,parent,kind,title,source
"""
HUB_ROWS = ["AC,,family,Access Control,N1", "AC-2,AC,control,Account Management,N1",
            "AC-3,AC,control,Access Enforcement,N1", "AU,,family,Audit and Accountability,N1",
            "AU-6,AU,control,\"Audit Record Review, Analysis, and Reporting\",N1"]
RULE_HEAD = """# framework: rule
# name: A small rule
# kind: regulation
# source S1: 45 CFR 164.308 (a test extract)
# mapping-source: a test crosswalk
# mapping-relationship: informative_reference
# note: a test catalog
citation,parent,kind,implementation,title,source,nist_800_53,text
"""
RULE_ROWS = [
    "164.308,,section,,Administrative safeguards,S1,,",
    "164.308(a)(1)(i),164.308,standard,,Security management process,S1,,Implement policies and procedures.",
    "164.308(a)(1)(ii)(A),164.308(a)(1)(i),implementation_specification,required,Risk analysis,S1,AC-2 AU-6,",
    "164.308(a)(3)(ii)(A),164.308(a)(1)(i),implementation_specification,addressable,Authorization,S1,AC-3,",
]


def write_catalog(directory: Path, name: str, head: str, rows: list[str]) -> Path:
    path = directory / name
    path.write_text(head + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small_dir(tmp_path) -> Path:
    """A directory with a three-control hub and a four-row rule mapping into it."""
    write_catalog(tmp_path, "hub.csv", HUB_HEAD, HUB_ROWS)
    write_catalog(tmp_path, "rule.csv", RULE_HEAD, RULE_ROWS)
    return tmp_path


@pytest.fixture
def shipped_catalogs(db):
    """The catalogs of compliance/data/, loaded."""
    return catalogs_load()


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A copy of compliance/data/ that a test may edit."""
    for path in DATA_DIR.glob("*.csv"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    return tmp_path
