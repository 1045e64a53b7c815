"""factory_boy factories shared by every app's tests."""

import datetime

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from inventory.choices import ChangeKind, Environment, PowerState, ScanStatus, ScanTrigger, SourceKind, VMStatus
from inventory.models import (
    AreaMapping,
    Cluster,
    Datacenter,
    DeploymentRequest,
    Host,
    ScanRun,
    Source,
    VirtualMachine,
    VMChange,
)
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


# --- inventory --------------------------------------------------------------------------------------------------


class SourceFactory(factory.django.DjangoModelFactory):
    """A vCenter source; ``SourceFactory(kind=SourceKind.RVTOOLS, host="")`` for an import."""

    class Meta:
        model = Source
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"vcenter{n}")
    kind = SourceKind.VCENTER
    host = factory.LazyAttribute(lambda source: f"{source.name}.example.com")
    port = 443
    username = "svc-vmcensus@vsphere.local"
    password = "s3cret-vcenter-pass"


class ScanRunFactory(factory.django.DjangoModelFactory):
    """A complete scan by default; ``status="running"`` with no ``finished_at`` for one in progress."""

    class Meta:
        model = ScanRun

    source = factory.SubFactory(SourceFactory)
    status = ScanStatus.COMPLETE
    trigger = ScanTrigger.COMMAND
    started_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(minutes=5))
    finished_at = factory.LazyAttribute(
        lambda run: None if run.status == ScanStatus.RUNNING else run.started_at + datetime.timedelta(seconds=83)
    )
    heartbeat_at = factory.SelfAttribute("started_at")
    observed_at = factory.SelfAttribute("started_at")


class DatacenterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Datacenter

    source = factory.SubFactory(SourceFactory)
    moref = factory.Sequence(lambda n: f"datacenter-{n}")
    name = factory.Sequence(lambda n: f"DC{n}")


class ClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cluster

    datacenter = factory.SubFactory(DatacenterFactory)
    source = factory.SelfAttribute("datacenter.source")
    moref = factory.Sequence(lambda n: f"domain-c{n}")
    name = factory.Sequence(lambda n: f"Cluster{n}")


class HostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Host

    cluster = factory.SubFactory(ClusterFactory)
    datacenter = factory.SelfAttribute("cluster.datacenter")
    source = factory.SelfAttribute("cluster.source")
    moref = factory.Sequence(lambda n: f"host-{n}")
    hardware_uuid = factory.Faker("uuid4")
    name = factory.Sequence(lambda n: f"esx{n:02d}.example.com")
    product = "VMware ESXi 7.0.3 build-21930508"
    version = "7.0.3"
    build = "21930508"


class VirtualMachineFactory(factory.django.DjangoModelFactory):
    """A powered-on, present VM on a host of its own cluster and datacenter (pass ``host=`` to share one)."""

    class Meta:
        model = VirtualMachine

    host = factory.SubFactory(HostFactory)
    cluster = factory.SelfAttribute("host.cluster")
    datacenter = factory.SelfAttribute("host.datacenter")
    source = factory.SelfAttribute("host.source")
    vcenter_uuid = factory.LazyAttribute(lambda vm: f"vc-{vm.source.name}")
    instance_uuid = factory.Faker("uuid4")
    bios_uuid = factory.Faker("uuid4")
    moref = factory.Sequence(lambda n: f"vm-{n}")
    name = factory.Sequence(lambda n: f"vm{n:03d}")
    power_state = PowerState.ON
    guest_os = "Red Hat Enterprise Linux 9 (64-bit)"
    tools_status = "toolsOk"
    tools_version = "12352"
    hardware_version = "vmx-19"
    cpu_count = 2
    memory_mb = 4096
    ip_addresses = factory.Sequence(lambda n: [f"10.0.{n // 250}.{n % 250 + 1}"])
    networks = ["VM Network"]
    first_seen = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=30))
    last_seen = factory.LazyFunction(timezone.now)
    status = VMStatus.PRESENT


class VMChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VMChange

    vm = factory.SubFactory(VirtualMachineFactory)
    kind = ChangeKind.RENAMED
    at = factory.LazyFunction(timezone.now)
    old = "old-name"
    new = "new-name"


class AreaMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AreaMapping

    person = factory.SubFactory(PersonFactory)
    scope = AreaMapping.Scope.CLUSTER
    pattern = factory.Sequence(lambda n: f"Cluster-{n}")


class DeploymentRequestFactory(factory.django.DjangoModelFactory):
    """A draft request filed by a manager's login for their own person; set ``state=`` for another state (the
    factory writes rows directly: tests of transitions go through the services)."""

    class Meta:
        model = DeploymentRequest

    requested_by = factory.SubFactory(UserFactory, role=Role.MANAGER)
    requester = factory.SubFactory(PersonFactory, user=factory.SelfAttribute("..requested_by"))
    owner = factory.SelfAttribute("requester")
    purpose = factory.Sequence(lambda n: f"Billing service {n}")
    environment = Environment.PRODUCTION
    vcpu = 2
    memory_gb = 8
    disk_gb = 100
    os = "Red Hat Enterprise Linux 9"
    start_date = factory.LazyFunction(timezone.localdate)
    end_date = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=365))
