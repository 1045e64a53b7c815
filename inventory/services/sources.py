"""Create and change sources. Passwords are encrypted at rest by the model field and never logged or audited."""

import ipaddress
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from inventory.choices import SourceKind
from inventory.models import Source
from portal.models import User
from portal.services.audit import audit_log

NAME_MAX_LENGTH = Source._meta.get_field("name").max_length
USER_MAX_LENGTH = Source._meta.get_field("username").max_length
# The longest host name DNS allows.
HOST_MAX_LENGTH = 253
# Far beyond any vCenter SSO password policy; bounds what is encrypted, stored and sent.
PASSWORD_MAX_LENGTH = 512
# Complete scans without a VM before it counts as removed: at the 6-hour schedule, 100 is 25 days.
MISSING_SCANS_RANGE = range(1, 101)
HOST_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# The settings an audit event records, under the names a reader knows (the password only as "changed").
AUDITED = {"name": "name", "host": "host", "port": "port", "username": "user", "use_http": "http",
           "verify_tls": "verify_tls", "missing_scans_before_removed": "missing_scans_before_removed",
           "enabled": "enabled"}


def vcenter_host_problem(host: str) -> str | None:
    """Why ``host`` cannot be a vCenter's host name or IP address, or None when it can."""
    if not host:
        return "A vCenter source needs a host name or address."
    if CONTROL_CHARACTERS.search(host) or " " in host:
        return "A host name has no spaces or control characters."
    if "://" in host or "/" in host:
        return "Give the host name or address only, without http(s):// or a path (e.g. vcenter.example.com)."
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    if ":" in host:
        return "Give the port in the port field, not after the host name."
    if len(host) > HOST_MAX_LENGTH:
        return f"A host name has at most {HOST_MAX_LENGTH} characters."
    if not all(HOST_LABEL.match(label) for label in host.split(".")):
        return f"{host!r} is not a host name: letters, digits and hyphens between dots (e.g. vcenter.example.com)."
    return None


def _password_problem(password: str, *, source: Source | None, values: dict[str, Any]) -> str | None:
    if not password:
        if source is None:
            return "A vCenter source needs a password."
        if not stored_password_usable(source, host=values["host"], port=values["port"], use_http=values["use_http"]):
            return "Type the password again: the stored one is only sent to the host, port and scheme it was given for."
        return None
    if "\x00" in password:
        return "A password cannot contain a NUL character."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"At most {PASSWORD_MAX_LENGTH} characters."
    return None


def _validate(*, values: dict[str, Any], password: str, source: Source | None) -> None:
    """Every rule a vCenter source's settings must follow, all problems at once, named by field."""
    errors: dict[str, str] = {}
    for field, limit in (("name", NAME_MAX_LENGTH), ("username", USER_MAX_LENGTH)):
        text = values[field]
        if not text:
            errors[field] = f"A vCenter source needs a {'name' if field == 'name' else 'user name'}."
        elif CONTROL_CHARACTERS.search(text):
            errors[field] = "Control characters (such as NUL) are not allowed."
        elif len(text) > limit:
            errors[field] = f"At most {limit} characters ({len(text)} given)."
    if problem := vcenter_host_problem(values["host"]):
        errors["host"] = problem
    port = values["port"]
    if not (0 < port < 65536):
        errors["port"] = f"{port} is not a TCP port (1 to 65535)."
    if values["missing_scans_before_removed"] not in MISSING_SCANS_RANGE:
        errors["missing_scans_before_removed"] = (
            f"Between {MISSING_SCANS_RANGE.start} and {MISSING_SCANS_RANGE.stop - 1} complete scans."
        )
    if problem := _password_problem(password, source=source, values=values):
        errors["password"] = problem
    if "name" not in errors:
        taken = Source.objects.filter(name=values["name"]).exclude(pk=source.pk if source else None).first()
        if taken is not None:
            errors["name"] = f"{taken.name!r} is already the name of a source: choose another name."
    if errors:
        raise ValidationError(errors)


def stored_password_usable(source: Source, *, host: str, port: int, use_http: bool) -> bool:
    """A stored password is only ever sent to the endpoint it was given for: change the host, the port or
    the scheme, and it must be typed again (else editing a source would send it to any server)."""
    return (source.host, source.port, source.use_http) == (host, port, use_http) and bool(source.password)


def _details(source: Source, *, password_changed: bool, changed: list[str] | None = None) -> dict[str, Any]:
    details = {label: getattr(source, field) for field, label in AUDITED.items()}
    details["password_changed"] = password_changed
    if changed is not None:
        details["changed"] = changed
    return details


@transaction.atomic
def source_vcenter_create(
    *, name: str, host: str, username: str, password: str, port: int = 443, use_http: bool = False,
    verify_tls: bool = True, missing_scans_before_removed: int = 3, enabled: bool = True,
    actor: User | None = None, actor_label: str = "",
) -> Source:
    """Add a vCenter / ESXi source; ``ValidationError`` names every bad field and nothing is saved."""
    values = {"name": name, "host": host, "port": port, "username": username, "use_http": use_http,
              "verify_tls": verify_tls, "missing_scans_before_removed": missing_scans_before_removed,
              "enabled": enabled}
    _validate(values=values, password=password, source=None)
    source = Source(kind=SourceKind.VCENTER, password=password, **values)
    source.full_clean()
    source.save()
    audit_log(action="source.created", actor=actor, actor_label=actor_label, obj=source,
              details=_details(source, password_changed=True))
    return source


@transaction.atomic
def source_vcenter_update(
    *, source: Source, name: str, host: str, username: str, password: str = "", port: int = 443,
    use_http: bool = False, verify_tls: bool = True, missing_scans_before_removed: int = 3, enabled: bool = True,
    actor: User | None = None, actor_label: str = "",
) -> Source:
    """Change a vCenter source's settings; an empty ``password`` keeps the stored one. Its history stays attached."""
    if source.kind != SourceKind.VCENTER:
        raise ValidationError({"name": f"{source.name!r} is a {source.get_kind_display()} source, not a vCenter."})
    values = {"name": name, "host": host, "port": port, "username": username, "use_http": use_http,
              "verify_tls": verify_tls, "missing_scans_before_removed": missing_scans_before_removed,
              "enabled": enabled}
    _validate(values=values, password=password, source=source)
    source = Source.objects.select_for_update().get(pk=source.pk)
    changed = [AUDITED[field] for field, value in values.items() if getattr(source, field) != value]
    password_changed = bool(password) and password != source.password
    for field, value in values.items():
        setattr(source, field, value)
    if password_changed:
        source.password = password
    source.full_clean()
    source.save()
    audit_log(action="source.updated", actor=actor, actor_label=actor_label, obj=source,
              details=_details(source, password_changed=password_changed, changed=changed))
    return source


def source_vcenter_save(
    *, name: str, host: str, username: str, password: str, port: int = 443, use_http: bool = False,
    verify_tls: bool = True, actor: User | None = None, actor_label: str = "system: add_vcenter",
) -> Source:
    """``manage.py add_vcenter``: add the vCenter source of that name, or update it with these settings."""
    source = Source.objects.filter(name=name).first()
    settings = {"name": name, "host": host, "username": username, "password": password, "port": port,
                "use_http": use_http, "verify_tls": verify_tls, "actor": actor, "actor_label": actor_label}
    if source is None:
        return source_vcenter_create(**settings)
    return source_vcenter_update(
        source=source, missing_scans_before_removed=source.missing_scans_before_removed, enabled=source.enabled,
        **settings,
    )


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
