"""The embedded demo: an organisation of about 200 people over 5 levels and one login per role.

Loaded through the same import service as a real org chart, so running it
twice changes nothing. Later apps add their own demo data after this.
"""

import csv
import datetime
import io
import random
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from portal.choices import Role
from portal.models import Person, User
from portal.services.people import people_import
from portal.services.roles import user_grant_role

DEMO_DOMAIN = "demo.vmcensus.example"
DEMO_PASSWORD = "vmcensus-demo"  # noqa: S105 - printed to the person running the demo on purpose
DEMO_SEED = 20261129
FIRST_NAMES = [
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Luca",
    "Maya", "Nils", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Victor", "Wen", "Yusuf", "Zoe",
]
LAST_NAMES = [
    "Abbott", "Bauer", "Costa", "Diallo", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quintero", "Rossi", "Santos",
    "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zhang",
]
DIVISIONS = ["Infrastructure", "Clinical Systems", "Finance", "Customer Services", "Information Security"]
# Direct reports per person at each level below the CEO: 5 VPs, 4 directors each,
# 3 managers each, 2 staff each: 1 + 5 + 20 + 60 + 120 = 206 people over 5 levels.
FAN_OUT = [5, 4, 3, 2]
LEVEL_TITLES = ["Chief Executive Officer", "Vice President", "Director", "Manager", "Engineer"]


@dataclass(frozen=True)
class DemoLogin:
    """A demo login: linked to a person of the organisation (whose name it takes), or with a name of its own
    (``full_name``: the admin and the external auditor are nobody's manager nor report)."""

    username: str
    role: Role
    person_email: str | None
    full_name: str = ""


def _org_rows() -> list[dict[str, str]]:
    rng = random.Random(DEMO_SEED)
    used: set[str] = set()

    def new_person(title: str, department: str, manager_email: str) -> dict[str, str]:
        while True:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{first}.{last}@{DEMO_DOMAIN}".lower()
            if email not in used:
                used.add(email)
                return {"email": email, "name": f"{first} {last}", "title": title,
                        "department": department, "manager_email": manager_email}

    ceo = new_person(LEVEL_TITLES[0], "Executive", "")
    rows = [ceo]
    level = [ceo]
    for depth, fan_out in enumerate(FAN_OUT, start=1):
        next_level = []
        for manager in level:
            for _ in range(fan_out):
                division = DIVISIONS[len(next_level) % len(DIVISIONS)]
                department = division if depth == 1 else manager["department"]
                child = new_person(f"{LEVEL_TITLES[depth]}, {department}", department, manager["email"])
                next_level.append(child)
        rows.extend(next_level)
        level = next_level
    return rows


def _demo_logins(rows: list[dict[str, str]]) -> list[DemoLogin]:
    by_title = {}
    for row in rows:
        by_title.setdefault((row["title"].split(",")[0], row["department"]), row["email"])
    return [
        DemoLogin("admin", Role.ADMIN, None, "Sam Okafor"),
        DemoLogin("officer", Role.COMPLIANCE_OFFICER, by_title.get(("Director", "Information Security"))),
        DemoLogin("secadmin", Role.SECURITY_ADMIN, by_title.get(("Manager", "Information Security"))),
        DemoLogin("manager", Role.MANAGER, by_title.get(("Director", "Infrastructure"))),
        DemoLogin("auditor", Role.AUDITOR, None, "Ines Duarte"),
    ]


def demo_load() -> list[str]:
    """The portal's part of ``manage.py load_demo``: the organisation and the logins to print."""
    logins = demo_people_load()
    lines = [f"People: {Person.objects.filter(active=True).count()} in the demo organisation.",
             f"Logins (password for all: {DEMO_PASSWORD}):"]
    names = {user.username: user.get_full_name()
             for user in User.objects.filter(username__in=[login.username for login in logins])}
    lines += [f"  {login.username:<10} {login.role.label}"
              + (f" ({names[login.username]})" if names.get(login.username) else "") for login in logins]
    return lines


@transaction.atomic
def demo_people_load() -> list[DemoLogin]:
    """Create or refresh the demo organisation and logins; returns the logins to print."""
    rows = _org_rows()
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=["email", "name", "title", "department", "manager_email"])
    writer.writeheader()
    writer.writerows(rows)
    people_import(stream=io.BytesIO(stream.getvalue().encode()), source_name="demo organisation")

    logins = _demo_logins(rows)
    for login in logins:
        user, created = User.objects.get_or_create(username=login.username)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.email = f"{login.username}@{DEMO_DOMAIN}"
            user.save()
        if login.person_email:
            person = Person.objects.get(email=login.person_email)
            if person.user_id != user.pk:
                Person.objects.filter(user=user).update(user=None)
                person.user = user
                person.save(update_fields=["user"])
            user.first_name, _, user.last_name = person.name.partition(" ")
            user.email = person.email
            user.save(update_fields=["first_name", "last_name", "email"])
        elif login.full_name:
            user.first_name, _, user.last_name = login.full_name.partition(" ")
            user.save(update_fields=["first_name", "last_name"])
        if login.role not in user.roles or login.role == Role.AUDITOR:
            expires = timezone.localdate() + datetime.timedelta(days=30) if login.role == Role.AUDITOR else None
            if login.role != Role.AUDITOR or user.access_expires_on != expires:
                user_grant_role(user=user, role=login.role, expires_on=expires, granted_by=None)
    return logins
