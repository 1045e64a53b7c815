"""Create and change sources. Passwords are encrypted at rest by the model field and never logged."""

from django.core.exceptions import ValidationError
from django.db import transaction

from inventory.choices import SourceKind
from inventory.models import Source
from portal.models import User
from portal.services.audit import audit_log


@transaction.atomic
def source_vcenter_save(
    *, name: str, host: str, username: str, password: str, port: int = 443, use_http: bool = False,
    verify_tls: bool = True, actor: User | None = None,
) -> Source:
    """Create a vCenter / ESXi source, or update the one of that name (its history stays attached)."""
    if not host:
        raise ValidationError({"host": "A vCenter source needs a host name or address."})
    if not (0 < port < 65536):
        raise ValidationError({"port": f"{port} is not a TCP port."})
    if not username or not password:
        raise ValidationError({"password": "A vCenter source needs a user name and a password."})
    source = Source.objects.filter(name=name).first()
    if source is not None and source.kind != SourceKind.VCENTER:
        raise ValidationError({"name": f"{name!r} is already the name of a {source.get_kind_display()} source."})
    created = source is None
    source = source or Source(name=name, kind=SourceKind.VCENTER)
    source.host, source.port, source.username, source.password = host, port, username, password
    source.use_http, source.verify_tls = use_http, verify_tls
    source.full_clean()
    source.save()
    audit_log(
        action="source.created" if created else "source.updated", actor=actor, actor_label="system: add_vcenter",
        obj=source, details={"host": host, "port": port, "user": username, "http": use_http, "verify_tls": verify_tls},
    )
    return source


def source_import_get_or_create(*, name: str, kind: str, actor: User | None = None) -> Source:
    """The source a file import feeds; created on first import."""
    source = Source.objects.filter(name=name).first()
    if source is None:
        source = Source.objects.create(name=name, kind=kind)
        audit_log(action="source.created", actor=actor, actor_label="system: import", obj=source,
                  details={"kind": kind})
    elif source.kind != kind:
        raise ValidationError({"source": f"{name!r} is a {source.get_kind_display()} source, not a {kind} import."})
    return source
