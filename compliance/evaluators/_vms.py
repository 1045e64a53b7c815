"""The VMs most metrics count: present (seen by their source's last complete scan), not templates, in a scope."""

from compliance.evaluators.base import scope_words, vm_scope_filter
from inventory.choices import VMStatus
from inventory.selectors import vm_list


def live_vms(scope: str):
    return vm_scope_filter(vm_list().filter(status=VMStatus.PRESENT, is_template=False), scope).order_by("id")


def live_words(scope: str) -> str:
    return f"VMs with status present, templates excluded{scope_words(scope)}"
