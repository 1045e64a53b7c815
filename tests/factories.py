"""factory_boy factories shared by every app's tests."""

import factory
from django.contrib.auth.models import Group

from portal.choices import Role
from portal.models import Person, User

TEST_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def role(user, create, extracted, **kwargs):
        """``UserFactory(role=Role.AUDITOR)``: put the user in the role's group (admins are superusers)."""
        if not extracted:
            user.save()
            return
        if extracted == Role.ADMIN:
            user.is_staff = user.is_superuser = True
        user.save()
        group, _ = Group.objects.get_or_create(name=extracted)
        user.groups.add(group)


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    title = "Engineer"
    department = "Infrastructure"
    parent = None
