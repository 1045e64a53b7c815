"""The Django admin is no way around the services: roles and the org chart cannot be changed there, and what it
may still write (a new login, a login's name and e-mail, the login of a person) goes through audited services."""

import pytest
from django.contrib.auth.models import Group, Permission

from portal.choices import Role
from portal.models import AuditEvent, Person, User
from portal.services.roles import roles_sync
from tests.factories import PersonFactory, UserFactory


@pytest.fixture
def admin_client(client, db):
    roles_sync()
    admin = UserFactory(username="root", first_name="Rita", last_name="Root", role=Role.ADMIN)
    client.force_login(admin)
    client.admin_user = admin
    return client


def _change_form_data(user: User, **changes) -> dict:
    data = {
        "username": user.username, "first_name": user.first_name, "last_name": user.last_name, "email": user.email,
        "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "00:00:00",
    }
    data.update(changes)
    return data


def test_roles_cannot_be_given_through_the_admins_user_form_and_the_other_changes_are_audited(admin_client):
    # given a manager
    manager = UserFactory(username="mia", first_name="Mia", last_name="Manager", email="mia@example.com",
                          role=Role.MANAGER)
    admin_group, auditor_group = Group.objects.get(name=Role.ADMIN), Group.objects.get(name=Role.AUDITOR)

    # when an admin posts the user form asking for admin plus auditor with no expiry, superuser, staff and a
    # permission, and a new first name
    response = admin_client.post(f"/admin/portal/user/{manager.pk}/change/", _change_form_data(
        manager, first_name="Maria", groups=[admin_group.pk, auditor_group.pk], is_superuser="on", is_staff="on",
        user_permissions=[Permission.objects.get(codename="add_person").pk], access_expires_on="",
    ))

    # then the roles and privileges are what they were, and the name change is in the audit trail
    assert response.status_code == 302
    manager = User.objects.get(pk=manager.pk)
    assert (manager.roles, manager.is_superuser, manager.is_staff, manager.user_permissions.count()) == (
        frozenset({"manager"}), False, False, 0
    )
    assert manager.first_name == "Maria"
    assert list(AuditEvent.objects.values_list("action", "actor_id", "object_id", "details")) == [
        ("user.updated", admin_client.admin_user.pk, str(manager.pk), {"first_name": "Maria"})
    ]


def test_a_login_added_in_the_admin_has_no_role_and_its_creation_is_audited(admin_client):
    response = admin_client.post("/admin/portal/user/add/", {
        "username": "newbie", "password1": "a-long-enough-secret", "password2": "a-long-enough-secret",
        "usable_password": "true", "groups": [Group.objects.get(name=Role.ADMIN).pk], "is_superuser": "on",
    })

    assert response.status_code == 302
    newbie = User.objects.get(username="newbie")
    assert (newbie.roles, newbie.is_superuser, newbie.is_staff) == (frozenset(), False, False)
    assert newbie.check_password("a-long-enough-secret")
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_id, event.object_id, event.details) == (
        "user.created", admin_client.admin_user.pk, str(newbie.pk), {"username": "newbie"}
    )


def test_the_admins_password_page_is_refused_so_passwords_are_set_by_the_reset_email(admin_client):
    manager = UserFactory(username="mia", role=Role.MANAGER)
    before = User.objects.get(pk=manager.pk).password

    response = admin_client.post(f"/admin/portal/user/{manager.pk}/password/", {
        "password1": "another-long-secret", "password2": "another-long-secret", "usable_password": "true",
    })

    assert response.status_code == 403
    assert User.objects.get(pk=manager.pk).password == before
    assert AuditEvent.objects.count() == 0


def test_users_cannot_be_deleted_in_the_admin(admin_client):
    manager = UserFactory(username="mia", role=Role.MANAGER)

    response = admin_client.post(f"/admin/portal/user/{manager.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert User.objects.filter(pk=manager.pk).exists()


def test_nobody_is_moved_in_the_org_chart_through_the_admin(admin_client):
    # given Ann under Alice
    ceo = PersonFactory(name="Carol CEO", email="ceo@example.com")
    alice = PersonFactory(name="Alice VP", email="alice@example.com", parent=ceo)
    ann = PersonFactory(name="Ann Lead", email="ann@example.com", parent=alice)

    # when an admin posts Ann's form moving her under the CEO, renaming and deactivating her
    response = admin_client.post(f"/admin/portal/person/{ann.pk}/change/", {
        "name": "Ann Other", "email": "ann@example.com", "title": "", "department": "", "parent": ceo.pk,
        "user": "",
    })

    # then Ann is where and who she was, and nothing was audited as changed
    assert response.status_code == 302
    ann = Person.objects.get(pk=ann.pk)
    assert (ann.parent_id, ann.name, ann.active) == (alice.pk, "Ann Lead", True)
    assert AuditEvent.objects.count() == 0


def test_people_are_neither_added_nor_deleted_in_the_admin(admin_client):
    ceo = PersonFactory(name="Carol CEO", email="ceo@example.com")

    added = admin_client.post("/admin/portal/person/add/", {"name": "Eve", "email": "eve@example.com",
                                                            "parent": ceo.pk})
    deleted = admin_client.post(f"/admin/portal/person/{ceo.pk}/delete/", {"post": "yes"})

    assert (added.status_code, deleted.status_code) == (403, 403)
    assert list(Person.objects.values_list("email", flat=True)) == ["ceo@example.com"]


def test_linking_a_login_to_a_person_in_the_admin_is_audited(admin_client):
    ann = PersonFactory(name="Ann Lead", email="ann@example.com")
    login = UserFactory(username="ann")

    response = admin_client.post(f"/admin/portal/person/{ann.pk}/change/", {"user": login.pk})

    assert response.status_code == 302
    assert Person.objects.get(pk=ann.pk).user_id == login.pk
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_id, event.object_id, event.details) == (
        "person.login_linked", admin_client.admin_user.pk, str(ann.pk), {"login": "ann", "previous_login": None}
    )


def test_role_groups_cannot_be_added_renamed_given_permissions_or_deleted_in_the_admin(admin_client):
    auditors = Group.objects.get(name=Role.AUDITOR)
    permission = Permission.objects.get(codename="change_person")

    added = admin_client.post("/admin/auth/group/add/", {"name": "superauditor", "permissions": [permission.pk]})
    changed = admin_client.post(f"/admin/auth/group/{auditors.pk}/change/",
                                {"name": "admin2", "permissions": [permission.pk]})
    deleted = admin_client.post(f"/admin/auth/group/{auditors.pk}/delete/", {"post": "yes"})

    assert (added.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
    assert sorted(Group.objects.values_list("name", flat=True)) == sorted(Role.values)
    assert Group.objects.get(name=Role.AUDITOR).permissions.count() == 0
    assert admin_client.get("/admin/auth/group/").status_code == 200


def test_the_admin_pages_of_logins_people_roles_and_tokens_still_open(admin_client):
    login = UserFactory(username="ann", role=Role.MANAGER)
    ann = PersonFactory(name="Ann Lead", email="ann@example.com", user=login)

    pages = [
        "/admin/portal/user/", f"/admin/portal/user/{login.pk}/change/", "/admin/portal/user/add/",
        "/admin/portal/person/", f"/admin/portal/person/{ann.pk}/change/", "/admin/auth/group/",
        f"/admin/auth/group/{Group.objects.get(name=Role.MANAGER).pk}/change/", "/admin/authtoken/tokenproxy/",
    ]

    assert {page: admin_client.get(page).status_code for page in pages} == dict.fromkeys(pages, 200)
    assert "Manager" in admin_client.get(f"/admin/portal/user/{login.pk}/change/").content.decode()
