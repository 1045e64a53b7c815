"""Revoking a role, like granting one, is an audited act: the service, ``manage.py revoke_role`` and the person
page (for admins) are its doors."""

import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from portal.choices import Role
from portal.models import AuditEvent, User
from portal.services.roles import roles_sync, user_revoke_role
from tests.factories import PersonFactory, UserFactory


@pytest.fixture
def auditor(db):
    roles_sync()
    user = UserFactory(username="alice", first_name="Alice", last_name="Audit", role=Role.AUDITOR)
    user.access_expires_on = datetime.date(2027, 1, 31)
    user.save()
    return user


def _events() -> list[tuple]:
    return list(AuditEvent.objects.order_by("sequence").values_list("action", "actor_id", "object_id", "details"))


def test_revoking_a_role_removes_it_and_writes_an_audit_event(auditor):
    officer = UserFactory(username="olga", role=Role.COMPLIANCE_OFFICER)

    user_revoke_role(user=auditor, role=Role.AUDITOR, revoked_by=officer)

    assert User.objects.get(pk=auditor.pk).roles == frozenset()
    assert _events() == [("role.revoked", officer.pk, str(auditor.pk), {"role": "auditor"})]


def test_revoking_admin_also_ends_superuser_and_staff(db):
    root = UserFactory(username="root", role=Role.ADMIN)

    user_revoke_role(user=root, role=Role.ADMIN)

    root = User.objects.get(pk=root.pk)
    assert (root.roles, root.is_superuser, root.is_staff) == (frozenset(), False, False)
    assert AuditEvent.objects.get().details == {"role": "admin"}


def test_revoking_a_role_the_user_does_not_have_is_refused_and_changes_nothing(auditor):
    with pytest.raises(ValidationError) as refusal:
        user_revoke_role(user=auditor, role=Role.MANAGER)

    assert refusal.value.message_dict == {"role": ["Alice Audit does not have the role Manager."]}
    assert User.objects.get(pk=auditor.pk).roles == frozenset({"auditor"})
    assert AuditEvent.objects.count() == 0


def test_revoke_role_command_revokes_and_audits(auditor):
    out = io.StringIO()

    call_command("revoke_role", "alice", "auditor", stdout=out)

    assert out.getvalue() == "alice is no longer Auditor.\n"
    assert User.objects.get(pk=auditor.pk).roles == frozenset()
    assert list(AuditEvent.objects.values_list("action", "actor_label")) == [("role.revoked", "system: role revoke")]


def test_revoke_role_command_refuses_an_unknown_login_or_a_role_not_held(auditor):
    with pytest.raises(CommandError, match=r"^No login named 'ghost'\.$"):
        call_command("revoke_role", "ghost", "auditor")
    with pytest.raises(CommandError, match=r"^Alice Audit does not have the role Manager\.$"):
        call_command("revoke_role", "alice", "manager")

    assert User.objects.get(pk=auditor.pk).roles == frozenset({"auditor"})
    assert AuditEvent.objects.count() == 0


# --- the person page --------------------------------------------------------------------------------------------


@pytest.fixture
def alice_person(auditor):
    return PersonFactory(name="Alice Audit", email="alice@example.com", user=auditor)


def test_an_admin_sees_the_login_and_roles_on_the_person_page_and_others_do_not(alice_person, client_for):
    admin_page = client_for(Role.ADMIN).get(f"/people/{alice_person.pk}/").content.decode()
    officer_page = client_for(Role.COMPLIANCE_OFFICER).get(f"/people/{alice_person.pk}/").content.decode()

    assert 'data-login="alice"' in admin_page and 'name="action" value="revoke"' in admin_page
    assert 'data-login="alice"' not in officer_page and 'name="action"' not in officer_page


def test_an_admin_revokes_a_role_on_the_person_page(alice_person, client_for, role_users):
    response = client_for(Role.ADMIN).post(
        f"/people/{alice_person.pk}/", {"action": "revoke", "role": "auditor"}, follow=True
    )

    assert User.objects.get(pk=alice_person.user_id).roles == frozenset()
    assert _events() == [("role.revoked", role_users[Role.ADMIN].pk, str(alice_person.user_id), {"role": "auditor"})]
    assert "Alice Audit is no longer Auditor." in response.content.decode()


def test_an_admin_grants_a_role_on_the_person_page_and_an_auditor_needs_an_end_date(
    alice_person, client_for, role_users
):
    admin = client_for(Role.ADMIN)
    refused = admin.post(f"/people/{alice_person.pk}/", {"action": "grant", "role": "manager",
                                                         "expires_on": "not-a-date"}, follow=True)
    assert "Enter a valid date." in refused.content.decode()
    assert AuditEvent.objects.count() == 0

    admin.post(f"/people/{alice_person.pk}/", {"action": "grant", "role": "manager"})

    assert User.objects.get(pk=alice_person.user_id).roles == frozenset({"auditor", "manager"})
    assert _events() == [("role.granted", role_users[Role.ADMIN].pk, str(alice_person.user_id),
                          {"role": "manager", "expires_on": None})]


@pytest.mark.parametrize("role", [Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN, Role.MANAGER, Role.AUDITOR])
def test_only_admins_change_roles_on_the_person_page(role, alice_person, client_for):
    response = client_for(role).post(f"/people/{alice_person.pk}/", {"action": "grant", "role": "admin"})

    assert response.status_code == 403
    assert User.objects.get(pk=alice_person.user_id).roles == frozenset({"auditor"})
    assert AuditEvent.objects.count() == 0
