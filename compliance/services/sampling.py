"""Audit sampling: a random sample of a pack's population, drawn from a recorded seed so anyone can draw it again.

The population is ordered by VM id before drawing and Python's ``random.Random`` (Mersenne Twister, stable across
versions for ``sample``) is seeded with the recorded seed: the same population and seed give the same VMs.
"""

import random
import secrets

from django.db import transaction
from django.utils import timezone

from compliance.models import EvidencePack, PackSample
from compliance.pack_sections import canonical_json, sha256_hex
from portal.models import User
from portal.services.audit import audit_log

# Largest sample an auditor may draw: AS 2315 tables stop well below it, and every VM of it prints a block.
SAMPLE_SIZE_MAX = 200
# Seeds are below 2**62 so they fit a signed 64-bit column on every database.
SEED_BOUND = 2**62


class SampleRefused(ValueError):
    """A sample that cannot be drawn; ``str()`` says why, for the form."""


def sample_seed_new() -> int:
    return secrets.randbelow(SEED_BOUND)


def sample_draw(*, population_ids: list[int], seed: int, size: int) -> list[int]:
    """``size`` ids drawn from ``population_ids`` with ``seed`` (all of them when fewer), in ascending order."""
    ordered = sorted(population_ids)
    return sorted(random.Random(seed).sample(ordered, min(size, len(ordered))))


@transaction.atomic
def pack_sample_draw(*, pack: EvidencePack, user: User, size: int, seed: int | None = None) -> PackSample:
    """Draw a sample of a ready pack's recorded population (a new seed unless one is given), record it and audit
    it: the auditor re-performs the selection without trusting the pack's own."""
    if not 1 <= size <= SAMPLE_SIZE_MAX:
        raise SampleRefused(f"the sample size must be between 1 and {SAMPLE_SIZE_MAX}")
    if seed is not None and not 0 <= seed < SEED_BOUND:
        raise SampleRefused(f"the seed must be a whole number from 0 to {SEED_BOUND - 1}")
    seed = sample_seed_new() if seed is None else seed
    vm_ids = sample_draw(population_ids=pack.manifest["population_ids"], seed=seed, size=size)
    sample = PackSample.objects.create(
        pack=pack, seed=seed, size=len(vm_ids), vm_ids=vm_ids, sha256=sha256_hex(canonical_json(vm_ids)),
        drawn_by=user, drawn_at=timezone.now(),
    )
    audit_log(action="pack.sample_drawn", actor=user, obj=sample,
              details={"pack": pack.pk, "seed": seed, "size": len(vm_ids), "sha256": sample.sha256})
    return sample
