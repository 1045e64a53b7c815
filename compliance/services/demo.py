"""The compliance part of ``manage.py load_demo``: the catalogs shipped in ``compliance/data/``, then the
compliance records (applicability, decisions, the security plan, exceptions).

Loaded through the same service as ``manage.py load_catalogs``, so running the demo twice changes nothing.
"""

from compliance.services.catalogs import catalogs_load
from compliance.services.demo_records import records_demo_load


def demo_load() -> list[str]:
    """Load the catalogs; one line per framework for the demo's summary."""
    lines = []
    for result in catalogs_load():
        state = f"{result.requirements} requirements loaded" if result.created else "unchanged"
        lines.append(f"Catalog {result.slug} v{result.number}: {state}.")
    return lines + records_demo_load()
