"""Reconciliation: what people declared in a campaign against what the scanners saw, every gap routed to the
person who can close it.

A run loads the campaign's declared VMs and the inventory once, joins them in memory by evidence in order of
trust (``MatchKey``: the inventory VM the person confirmed, a link made by hand, a UUID, VM ID or MAC address
they gave, the guest's host name or an IP address, then the normalised name: unique in the person's area
first, then in the estate), and gives each declared VM that counts as declared one state: matched, mismatch
(matched, facts disagree; each disagreement named), conflict (one VM declared by two people or with two
owners), not_found (a platform we scan) or not_found_unscanned (a platform we do not). Inventory VMs in the
campaign's scope that nobody declared are undeclared. A key that fits several VMs, or a name that only matches
approximately, never matches silently: the item keeps the candidates for a person to pick.

Accepted declarations write their governance facts (owner, purpose, data categories) back onto the VM, each
change a ``repurposed`` entry of its timeline. The run then compares its outcome with the stored items and
writes only what changed, so a second run changes nothing; each run is stored with its counts and the items it
changed, and the people newly asked to close a gap get one digest e-mail each.
"""

import datetime
import hashlib
import ipaddress
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, F, Q, TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone

from inventory.choices import ChangeKind, Platform, PowerState, SourceKind, VMStatus
from inventory.models import AreaMapping, Cluster, Datacenter, Host, Source, VirtualMachine, VMChange
from portal.choices import NotificationKind
from portal.db import chunked, rows_insert, rows_update
from portal.models import Person, User
from portal.services.audit import AuditEntry, audit_log, audit_log_many
from portal.services.notifications import notification_new, notifications_notify
from questionnaires.choices import (
    DECLARED_DISPOSITIONS,
    AssignmentStatus,
    CampaignStatus,
    DeclaredVMStatus,
    MatchKey,
    ReconciliationState,
    Resolution,
    VMPurpose,
)
from questionnaires.models import (
    Campaign,
    DeclaredVM,
    ReconciliationChange,
    ReconciliationItem,
    ReconciliationRun,
)
from questionnaires.signals import reconciliation_completed

logger = logging.getLogger(__name__)

State = ReconciliationState
# Rows per INSERT / UPDATE while storing a run: a 100,000-item campaign in a few hundred statements.
WRITE_BATCH_SIZE = 500
# Candidates an item keeps for a person to choose from: more than this and the name is no help anyway.
CANDIDATES_KEPT = 20
# Inventory VMs a declaration may match: the ones that exist (a removed VM matches only to say it is gone).
LIVE_STATUSES = (VMStatus.PRESENT, VMStatus.MISSING)
# Sources whose VMs run on vSphere: the collector and RVTools leave ``platform`` empty for them.
VSPHERE_SOURCES = (SourceKind.VCENTER, SourceKind.RVTOOLS)
# States whose item waits for somebody's answer; the routed person is told of them.
OPEN_STATES = (State.UNDECLARED, State.NOT_FOUND, State.NOT_FOUND_UNSCANNED, State.CONFLICT, State.MISMATCH)
# Closed campaigns are reconciled after scans for this long: their gaps stay current while they are followed up.
CLOSED_CAMPAIGNS_FOLLOWED_DAYS = 365
# Where a routed person answers their follow-ups (e-mails link here).
FOLLOW_UPS_PATH = "/questionnaires/follow-ups/"
# Declared statuses that say the VM should not be running.
NOT_RUNNING_STATUSES = (DeclaredVMStatus.STOPPED, DeclaredVMStatus.DECOMMISSIONED)
WORD = re.compile(r"[0-9a-z]{3,}")
# VM facts stored as JSON lists, read as text and parsed only when not empty.
JSON_FACTS = ("ip_addresses", "mac_addresses", "data_categories")
# Facts of a VM read only when some declaration gives the key they are compared with.
KEYED_FACTS = ("uuid", "moref", "address", "mac", "created_at")


def _needs(rows: Iterable["_Declared"]) -> frozenset[str]:
    """The keyed facts the campaign's declarations use: a VM ID nobody typed needs no VM's moref read."""
    needs = set()
    for row in rows:
        needs.update(fact for fact, given in (("uuid", row.uuid), ("moref", row.vm_id), ("mac", row.mac_address),
                                              ("address", row.address), ("created_at", row.created_on)) if given)
        if len(needs) == len(KEYED_FACTS):
            break
    return frozenset(needs)


def created_tolerance_days() -> int:
    """How far a declared creation date may be from vCenter's before it is a mismatch."""
    return settings.RECONCILIATION_CREATED_TOLERANCE_DAYS


# --- keys: how values are compared ---------------------------------------------------------------------------


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def name_key(text: str) -> str:
    """A VM or host name compared in any case, without surrounding spaces or a domain suffix (web01.corp.com is
    web01); an IP address stays whole."""
    text = " ".join((text or "").split()).casefold()
    if "." in text and not _is_ip(text):
        text = text.split(".", 1)[0]
    return text


NOT_LETTER_OR_DIGIT = re.compile(r"[^0-9a-z]")
NOT_HEX_DIGIT = re.compile(r"[^0-9a-f]")


def loose_key(text: str) -> str:
    """A name with only its letters and digits: web_01, web-01 and "web 01" are close, never the same VM."""
    return NOT_LETTER_OR_DIGIT.sub("", name_key(text))


def mac_key(text: str) -> str:
    digits = NOT_HEX_DIGIT.sub("", (text or "").casefold())
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2)) if len(digits) == 12 else ""


def account_key(text: str) -> str:
    """A vCenter or directory account without its domain: VSPHERE.LOCAL\\alice, alice@corp.com and Alice match."""
    text = (text or "").strip().casefold()
    return text.rsplit("\\", 1)[-1].split("@", 1)[0]


# --- what a run works on ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _VM:
    id: int
    name: str
    status: str
    is_template: bool
    power_state: str
    instance_uuid: str
    bios_uuid: str
    moref: str
    dns_name: str
    ips: list[str]
    macs: list[str]
    created_at: datetime.datetime | None
    created_by: str
    owner_id: int | None
    purpose: str
    data_categories: list[str]
    platform: str
    datacenter: str
    cluster: str
    host: str
    folder: str
    resource_pool: str
    area: set[int] = field(default_factory=set)


@dataclass(slots=True)
class _Declared:
    id: int
    person_id: int
    assignment_status: str
    row: int
    name: str
    address: str
    platform: str
    created_on: datetime.date | None
    created_by: str
    status: str
    owner: str
    purpose: str
    purpose_other: str
    data_categories: list[str]
    location: str
    uuid: str
    vm_id: str
    mac_address: str
    inventory_vm_id: int | None
    disposition: str


@dataclass(slots=True)
class _Outcome:
    """What a run finds for one item; compared field by field with the stored item."""

    key: str
    state: str
    declared_vm_id: int | None = None
    declarer_id: int | None = None
    vm_id: int | None = None
    match_key: str = ""
    match_value: str = ""
    reasons: list[dict] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)
    routed_to_id: int | None = None
    label: str = ""  # the name people know it by, for messages; not stored

    FIELDS = ("state", "declared_vm_id", "declarer_id", "vm_id", "match_key", "match_value", "reasons",
              "candidates", "routed_to_id")

    def fingerprint(self) -> str:
        """A digest of the stored fields: a rerun compares digests instead of reading every item's reasons."""
        values = (f"{self.state}|{self.declared_vm_id}|{self.declarer_id}|{self.vm_id}|{self.match_key}|"
                  f"{self.match_value}|{self.reasons}|{self.candidates}|{self.routed_to_id}")
        return hashlib.blake2b(values.encode(), digest_size=16).hexdigest()


def _json_list(text: str | None) -> list:
    """A JSON list read as text (orjson parses 100,000 small lists several times faster than ``json``): most are
    empty, and reading "[]" needs no parser."""
    return orjson.loads(text) if text and text != "[]" else []


def _reason(code: str, message: str) -> dict:
    return {"code": code, "message": message}


class _People:
    """The org chart in memory: managers, who is active, logins and e-mails, subtrees."""

    def __init__(self) -> None:
        rows = Person.objects.values_list("id", "parent_id", "active", "user_id", "email", "name")
        self.parent: dict[int, int | None] = {}
        self.active: dict[int, bool] = {}
        self.name: dict[int, str] = {}
        self.by_email: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = defaultdict(list)
        self.by_account: dict[str, int] = {}
        user_of: dict[int, int] = {}
        for person_id, parent_id, active, user_id, email, name in rows:
            self.parent[person_id] = parent_id
            self.active[person_id] = active
            self.name[person_id] = name
            self.by_email[email.casefold()] = person_id
            if active:
                self.by_name[" ".join(name.split()).casefold()].append(person_id)
                self.by_account.setdefault(account_key(email), person_id)
            if user_id:
                user_of[user_id] = person_id
        for user_id, username in User.objects.filter(pk__in=list(user_of)).values_list("id", "username"):
            self.by_account[account_key(username)] = user_of[user_id]
        self._chains: dict[int, list[int]] = {}
        self._active_in_chain: dict[int, int | None] = {}

    def chain(self, person_id: int) -> list[int]:
        """The person and their managers up to the top, nearest first."""
        if person_id not in self._chains:
            chain, current, seen = [], person_id, set()
            while current is not None and current not in seen:
                seen.add(current)
                chain.append(current)
                current = self.parent.get(current)
            self._chains[person_id] = chain
        return self._chains[person_id]

    def within(self, person_id: int, head_id: int) -> bool:
        return head_id in self.chain(person_id)

    def active_in_chain(self, person_id: int) -> int | None:
        """The person if active, else their nearest active manager."""
        if person_id not in self._active_in_chain:
            self._active_in_chain[person_id] = next((p for p in self.chain(person_id) if self.active.get(p)), None)
        return self._active_in_chain[person_id]

    def common_manager(self, people: Iterable[int]) -> int | None:
        """The lowest manager whom all of ``people`` report to (one of them, if the others report to them)."""
        chains = [self.chain(p) for p in people]
        if not chains:
            return None
        shared = set(chains[0]).intersection(*chains[1:])
        return next((p for p in chains[0] if p in shared), None)

    def from_text(self, text: str) -> int | None:
        """A person from a declared owner: an e-mail, "Name <e-mail>", or a full name only one active person has."""
        text = " ".join((text or "").split())
        match = re.search(r"<([^<>]+)>$", text)
        if match or "@" in text:
            return self.by_email.get((match.group(1) if match else text).strip().casefold())
        namesakes = self.by_name.get(text.casefold(), [])
        return namesakes[0] if len(namesakes) == 1 else None

    def from_account(self, text: str) -> int | None:
        person_id = self.by_account.get(account_key(text)) if text else None
        return person_id if person_id and self.active.get(person_id) else None


class _Estate:
    """The inventory in memory, indexed by every key a declaration may match on."""

    def __init__(self, people: _People, needs: frozenset[str] = frozenset(KEYED_FACTS)) -> None:
        """``needs``: the keyed facts the declarations use (``KEYED_FACTS``); the others are not read at all, since
        reading 100,000 rows costs by the column."""
        blank = {
            "uuid": {"instance_uuid": Value(""), "bios_uuid": Value("")},
            "moref": {"moref": Value("")},
            "address": {"dns_name": Value(""), "ip_addresses_text": Value("[]")},
            "mac": {"mac_addresses_text": Value("[]")},
            "created_at": {"created_at": Value(None, output_field=DateTimeField())},
        }
        columns = {
            "instance_uuid": F("instance_uuid"), "bios_uuid": F("bios_uuid"), "moref": F("moref"),
            "dns_name": F("dns_name"), "created_at": F("created_at"),
            **{f"{name}_text": Cast(name, TextField()) for name in JSON_FACTS},
        }
        for fact, replaced in blank.items():
            if fact not in needs:
                columns.update(replaced)
        read = {f"read_{name}": expression for name, expression in columns.items()}
        vms = VirtualMachine.objects.annotate(**read).values_list(
            "id", "name", "status", "is_template", "power_state", "read_instance_uuid", "read_bios_uuid",
            "read_moref", "read_dns_name", "read_ip_addresses_text", "read_mac_addresses_text", "read_created_at",
            "created_by", "owner_id", "purpose", "read_data_categories_text", "platform", "source_id",
            "datacenter_id", "cluster_id", "host_id", "folder", "resource_pool",
        )
        # Names of the places by id, from their own small tables: cheaper than joining them into every VM row.
        kinds = dict(Source.objects.values_list("id", "kind"))
        places = {
            model: {**dict(model.objects.values_list("id", "name")), None: ""} for model in (Datacenter, Cluster, Host)
        }
        datacenters, clusters, hosts = places[Datacenter], places[Cluster], places[Host]
        self.vms: dict[int, _VM] = {}
        self.index: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.names = self.index["name"]
        self.scanned_platforms: set[str] = set()
        # Read whole, not through a server-side cursor: PostgreSQL plans a cursor for its first rows, and
        # fetching 100,000 rows through one took 40 times longer than one plain read.
        for row in vms:
            (vm_id, name, status, is_template, power, instance_uuid, bios_uuid, moref, dns, ips, macs, created_at,
             created_by, owner_id, purpose, categories, platform, source_id, datacenter_id, cluster_id, host_id,
             folder, pool) = row
            platform = Platform.VMWARE_ESXI.value if kinds[source_id] in VSPHERE_SOURCES else platform
            vm = _VM(vm_id, name, status, is_template, power, instance_uuid.casefold(), bios_uuid.casefold(),
                     moref.casefold(), dns or "", _json_list(ips), _json_list(macs), created_at, created_by, owner_id,
                     purpose, _json_list(categories), platform or "", datacenters[datacenter_id],
                     clusters[cluster_id], hosts[host_id], folder or "", pool or "")
            self.vms[vm_id] = vm
            if platform:
                self.scanned_platforms.add(platform)
            self._add(vm)
        self._areas(people)
        self.cluster_owner = self._cluster_owners()

    def _cluster_owners(self) -> dict[str, int]:
        """The person who owns most VMs of each cluster: the cluster's de facto area, for routing."""
        counts: dict[str, Counter] = defaultdict(Counter)
        for vm in self.vms.values():
            if vm.cluster and vm.owner_id:
                counts[vm.cluster][vm.owner_id] += 1
        return {cluster: owners.most_common(1)[0][0] for cluster, owners in counts.items()}

    def _add(self, vm: _VM) -> None:
        index, vm_id = self.index, vm.id
        if vm.instance_uuid:
            index["uuid"][vm.instance_uuid].append(vm_id)
        if vm.bios_uuid and vm.bios_uuid != vm.instance_uuid:
            index["uuid"][vm.bios_uuid].append(vm_id)
        if vm.moref:
            index["moref"][vm.moref].append(vm_id)
        if vm.macs:
            for mac in {mac_key(mac) for mac in vm.macs} - {""}:
                index["mac"][mac].append(vm_id)
        if vm.dns_name:
            dns = vm.dns_name.casefold()
            index["dns"][dns].append(vm_id)
            if "." in dns:
                index["dns_short"][name_key(dns)].append(vm_id)
        if vm.ips:
            ips = index["ip"]
            for ip in vm.ips:
                ips[ip.casefold()].append(vm_id)
        self.names[name_key(vm.name)].append(vm_id)

    @cached_property
    def loose(self) -> dict[str, list[int]]:
        """VMs by ``loose_key`` of their name, built the first time a name does not match exactly."""
        loose: dict[str, list[int]] = defaultdict(list)
        for vm in self.vms.values():
            loose[loose_key(vm.name)].append(vm.id)
        return loose

    def _areas(self, people: _People) -> None:
        """Whose area each VM is in: its owner, and the people a cluster, folder or resource pool is mapped to."""
        mappings = list(AreaMapping.objects.values_list("scope", "pattern", "person_id"))
        cache: dict[tuple[str, str], set[int]] = {}
        fields = {
            AreaMapping.Scope.CLUSTER: "cluster", AreaMapping.Scope.FOLDER: "folder",
            AreaMapping.Scope.RESOURCE_POOL: "resource_pool",
        }
        self.mapped: dict[int, list[tuple[int, int]]] = {}  # vm → [(pattern length, person)], for routing
        for vm in self.vms.values():
            found: list[tuple[int, int]] = []
            for scope, attribute in fields.items():
                value = getattr(vm, attribute).casefold()
                if not value:
                    continue
                if (scope, value) not in cache:
                    cache[(scope, value)] = {
                        (len(pattern), person_id) for kind, pattern, person_id in mappings
                        if kind == scope and value.startswith(pattern.casefold())
                    }
                found.extend(cache[(scope, value)])
            self.mapped[vm.id] = sorted(found, reverse=True)
            vm.area = {person_id for _, person_id in found}
            if vm.owner_id:
                vm.area.add(vm.owner_id)

    def live(self, ids: list[int] | tuple) -> list[int]:
        vms = self.vms
        return [vm_id for vm_id in ids if vms[vm_id].status in LIVE_STATUSES]


# --- matching -----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Match:
    vm_id: int | None = None
    key: str = ""
    value: str = ""
    candidates: list[int] = field(default_factory=list)
    reasons: list[dict] = field(default_factory=list)


def _match(declared: _Declared, estate: _Estate, people: _People, linked: dict[int, int]) -> _Match:
    """The inventory VM a declaration is, by the most trusted evidence that points at exactly one VM."""
    vms = estate.vms
    for key, vm_id in ((MatchKey.LINKED, linked.get(declared.id)), (MatchKey.CONFIRMED, declared.inventory_vm_id)):
        if vm_id in vms:
            return _Match(vm_id, key, vms[vm_id].name)
    ambiguous: set[int] = set()
    index = estate.index
    keyed = []  # (index, value, match key) in order of trust, for the keys the person gave
    if declared.uuid:
        keyed.append(("uuid", declared.uuid.strip().casefold(), None))
    if declared.vm_id:
        keyed.append(("moref", declared.vm_id.strip().casefold(), MatchKey.MOREF))
    if declared.mac_address:
        keyed.append(("mac", mac_key(declared.mac_address), MatchKey.MAC))
    address = declared.address.strip().casefold()
    if address:
        if _is_ip(address):
            keyed.append(("ip", address, MatchKey.IP))
        else:
            keyed += [("dns", address, MatchKey.DNS_NAME), ("dns_short", name_key(address), MatchKey.DNS_NAME),
                      ("name", name_key(address), MatchKey.DNS_NAME)]
    for index_name, value, key in keyed:
        found = estate.live(index[index_name].get(value, ())) if value else []
        if len(found) == 1:
            vm = vms[found[0]]
            if index_name == "uuid":
                key = MatchKey.INSTANCE_UUID if vm.instance_uuid == value else MatchKey.BIOS_UUID
            return _Match(vm.id, key, value)
        ambiguous.update(found)
    named = estate.live(index["name"].get(name_key(declared.name), ()))
    if len(named) == 1:  # unique in the estate, so unique in the person's area if it is there
        vm_id = named[0]
        in_area = any(people.within(person, declared.person_id) for person in vms[vm_id].area)
        return _Match(vm_id, MatchKey.NAME_AREA if in_area else MatchKey.NAME_ESTATE, declared.name)
    in_area = [vm_id for vm_id in named if any(people.within(p, declared.person_id) for p in vms[vm_id].area)]
    if len(in_area) == 1:
        return _Match(in_area[0], MatchKey.NAME_AREA, declared.name)
    ambiguous.update(named)
    reasons = []
    if len(named) > 1:
        reasons.append(_reason("ambiguous_name", f"{len(named)} VMs are named {declared.name!r}: pick the one it is"))
    close = [vm_id for vm_id in estate.live(estate.loose.get(loose_key(declared.name), ()))
             if vm_id not in ambiguous]
    if close:
        names = ", ".join(sorted({vms[vm_id].name for vm_id in close})[:3])
        reasons.append(_reason("similar_name", f"no VM is named {declared.name!r}; similar: {names}"))
        ambiguous.update(close)
    gone = [vm_id for vm_id in estate.index["name"].get(name_key(declared.name), ()) if vm_id not in named]
    if gone and not ambiguous:
        reasons.append(_reason("removed", f"inventory saw {declared.name!r} removed"))
        return _Match(gone[0], "", "", [], reasons)
    candidates = sorted(ambiguous, key=lambda vm_id: (vms[vm_id].name, vm_id))[:CANDIDATES_KEPT]
    return _Match(None, "", "", candidates, reasons)


PLATFORM_LABELS = dict(Platform.choices)


def _platform_label(value: str) -> str:
    return PLATFORM_LABELS.get(value, value)


def _differences(declared: _Declared, vm: _VM, people: _People) -> list[dict]:
    """Every way the declaration and what the scanner saw disagree, named."""
    reasons = []
    if declared.status in NOT_RUNNING_STATUSES and vm.power_state == PowerState.ON:
        status = DeclaredVMStatus(declared.status).label.lower()
        code = "running_but_decommissioned" if declared.status == DeclaredVMStatus.DECOMMISSIONED else "running"
        reasons.append(_reason(code, f"declared {status}, but it is powered on"))
    if declared.created_by and vm.created_by and account_key(declared.created_by) != account_key(vm.created_by):
        reasons.append(_reason(
            "created_by", f"declared created by {declared.created_by}; vCenter's creation event says {vm.created_by}"
        ))
    if declared.created_on and vm.created_at:
        seen = timezone.localdate(vm.created_at)
        apart = abs((declared.created_on - seen).days)
        if apart > created_tolerance_days():
            reasons.append(_reason(
                "created_on", f"declared created on {declared.created_on:%Y-%m-%d}; vCenter says {seen:%Y-%m-%d} "
                f"({apart} days apart)"
            ))
    if declared.platform and vm.platform and declared.platform != vm.platform:
        reasons.append(_reason(
            "platform", f"declared {_platform_label(declared.platform)}; inventory sees {_platform_label(vm.platform)}"
        ))
    owner = people.from_text(declared.owner) if declared.owner else None
    if owner and vm.owner_id and owner != vm.owner_id:
        reasons.append(_reason(
            "owner", f"declared owner {people.name[owner]}; inventory's owner is {people.name.get(vm.owner_id, '?')}"
        ))
    if declared.location:
        places = " ".join((vm.datacenter, vm.cluster, vm.host)).casefold()
        words = WORD.findall(declared.location.casefold())
        if places.strip() and words and not any(word in places for word in words):
            where = " / ".join(part for part in (vm.datacenter, vm.cluster, vm.host) if part)
            reasons.append(_reason("location", f"declared at {declared.location!r}; it runs in {where}"))
    return reasons


# --- a run ------------------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    outcomes: dict[str, _Outcome]
    write_backs: dict[int, dict[str, Any]]  # vm → {field: value} from accepted declarations


def _declared_rows(campaign: Campaign) -> list[_Declared]:
    rows = (
        DeclaredVM.objects.filter(assignment__campaign=campaign, disposition__in=DECLARED_DISPOSITIONS)
        .annotate(data_categories_text=Cast("data_categories", TextField()))
        .values_list(
            "id", "assignment__person_id", "assignment__status", "row", "name", "address", "platform", "created_on",
            "created_by", "status", "owner", "purpose", "purpose_other", "data_categories_text", "location", "uuid",
            "vm_id", "mac_address", "inventory_vm_id", "disposition",
        )
        .order_by("id")
    )
    return [_Declared(*row[:13], _json_list(row[13]), *row[14:]) for row in rows]


def _purpose_text(declared: _Declared) -> str:
    if declared.purpose == VMPurpose.OTHER:
        return declared.purpose_other or VMPurpose.OTHER.label
    return VMPurpose(declared.purpose).label if declared.purpose else ""


def _route_undeclared(vm: _VM, estate: _Estate, people: _People, scope: set[int] | None, head: int) -> int:
    """The most likely owner of a VM nobody declared: its most specific area mapping, the account that created it,
    the person who owns most VMs of its cluster, else the head of the campaign's scope."""
    guesses = [person_id for _, person_id in estate.mapped.get(vm.id, [])]
    guesses.append(people.from_account(vm.created_by))
    guesses.append(estate.cluster_owner.get(vm.cluster) if vm.cluster else None)
    for guess in guesses:
        person_id = people.active_in_chain(guess) if guess else None
        if person_id and (scope is None or person_id in scope):
            return person_id
    return head


def _plan(
    campaign: Campaign, declared_rows: list[_Declared], estate: _Estate, people: _People, linked: dict[int, int]
) -> _Plan:
    head = people.active_in_chain(campaign.scope_id) or campaign.scope_id
    # The whole estate is in the scope of a campaign sent to the top of the organisation.
    whole_estate = people.parent.get(campaign.scope_id) is None
    scope = None if whole_estate else {p for p in people.parent if people.within(p, campaign.scope_id)}
    matches = {row.id: _match(row, estate, people, linked) for row in declared_rows}
    by_vm: dict[int, list[_Declared]] = defaultdict(list)
    for row in declared_rows:
        match = matches[row.id]
        if match.vm_id is not None and match.key:
            by_vm[match.vm_id].append(row)

    outcomes: dict[str, _Outcome] = {}
    write_backs: dict[int, dict[str, Any]] = {}
    for row in declared_rows:
        match = matches[row.id]
        outcome = _Outcome(key=f"d{row.id}", state=State.NOT_FOUND, declared_vm_id=row.id, declarer_id=row.person_id,
                           vm_id=match.vm_id, routed_to_id=people.active_in_chain(row.person_id), label=row.name)
        outcomes[outcome.key] = outcome
        if match.vm_id is None or not match.key:
            scanned = not row.platform or row.platform in estate.scanned_platforms
            outcome.state = State.NOT_FOUND if scanned else State.NOT_FOUND_UNSCANNED
            outcome.candidates = match.candidates
            outcome.reasons = match.reasons or [_reason(
                "not_seen", "no scanner sees it" + ("" if scanned else
                                                   f": nothing of {_platform_label(row.platform)} is scanned"),
            )]
            continue
        outcome.match_key, outcome.match_value = match.key, match.value[:255]
        vm = estate.vms[match.vm_id]
        if vm.status == VMStatus.REMOVED:  # confirmed or linked once, gone since
            outcome.state = State.NOT_FOUND
            outcome.reasons = [_reason("removed", f"inventory saw {vm.name!r} removed")]
            continue
        same_vm = by_vm[match.vm_id]
        others = [other for other in same_vm if other.id != row.id] if len(same_vm) > 1 else []
        declarers = {d.person_id for d in same_vm}
        owners = {" ".join(d.owner.split()).casefold() for d in same_vm if d.owner.strip()} if others else set()
        if len(declarers) > 1 or len(owners) > 1:
            outcome.state = State.CONFLICT
            outcome.reasons = [_reason(
                "declared_twice", f"also declared by {people.name.get(other.person_id, '?')} (row {other.row})"
                + (f", owner {other.owner}" if other.owner else ""),
            ) for other in others]
            outcome.routed_to_id = people.active_in_chain(people.common_manager(declarers) or head)
            continue
        if row.assignment_status == AssignmentStatus.ACCEPTED and not others:
            owner = people.from_text(row.owner) if row.owner else None
            write_backs[vm.id] = {
                "owner_id": owner or row.person_id, "purpose": _purpose_text(row)[:200] or vm.purpose,
                "data_categories": row.data_categories or vm.data_categories,
            }
        outcome.reasons = _differences(row, vm, people)
        outcome.state = State.MISMATCH if outcome.reasons else State.MATCHED

    declared_vm_ids = set(by_vm)
    for vm in estate.vms.values():
        if vm.status != VMStatus.PRESENT or vm.is_template or vm.id in declared_vm_ids:
            continue
        if scope is not None and not vm.area & scope:
            continue
        outcomes[f"u{vm.id}"] = _Outcome(
            key=f"u{vm.id}", state=State.UNDECLARED, vm_id=vm.id,
            routed_to_id=_route_undeclared(vm, estate, people, scope, head), label=vm.name,
            reasons=[_reason("undeclared", "a scanner sees it in the campaign's scope; nobody declared it")],
        )
    return _Plan(outcomes, write_backs)


def _write_back(plan: _Plan, estate: _Estate, campaign: Campaign, run: ReconciliationRun) -> int:
    """Owner, purpose and data categories of accepted declarations onto their VMs; returns how many VMs changed.
    The in-memory estate is updated too, so the states computed after agree with what is stored."""
    now = timezone.now()
    changed: list[tuple[_VM, dict, dict]] = []
    for vm_id, wanted in plan.write_backs.items():
        vm = estate.vms[vm_id]
        old = {name: getattr(vm, name) for name in wanted if getattr(vm, name) != wanted[name]}
        if old:
            new = {name: wanted[name] for name in old}
            changed.append((vm, old, new))
            for name, value in new.items():
                setattr(vm, name, value)
            if "owner_id" in new:
                vm.area.discard(old["owner_id"])
                vm.area.add(new["owner_id"])
    if not changed:
        return 0
    models_by_id = VirtualMachine.objects.in_bulk([vm.id for vm, _, _ in changed])
    updated = []
    for vm, _, new in changed:
        model = models_by_id[vm.id]
        for name, value in new.items():
            setattr(model, name, value)
        updated.append(model)
    VirtualMachine.objects.bulk_update(updated, ["owner_id", "purpose", "data_categories"], batch_size=WRITE_BATCH_SIZE)
    actor = f"reconciliation of {campaign}"[:200]
    VMChange.objects.bulk_create(
        [VMChange(vm_id=vm.id, kind=ChangeKind.REPURPOSED, at=now, actor=actor, old=old, new=new)
         for vm, old, new in changed],
        batch_size=WRITE_BATCH_SIZE,
    )
    audit_log_many(
        entries=[AuditEntry("vm.repurposed", models_by_id[vm.id], {"old": old, "new": new, "run": run.pk})
                 for vm, old, new in changed],
        actor_label="system: reconciliation",
    )
    return len(changed)


# Columns of a new item and of a change, as ``rows_insert`` writes them; the columns a rerun rewrites on an item
# (its outcome), and those it clears too when the state changed (an answer to the old situation).
ITEM_COLUMNS = ("campaign_id", "key", *_Outcome.FIELDS, "fingerprint", "changed_run_id", "resolution",
                "resolution_note")
CHANGE_COLUMNS = ("run_id", "key", "item_id", "old_state", "new_state")
OUTCOME_COLUMNS = (*_Outcome.FIELDS, "fingerprint")
CLEARED_COLUMNS = (*OUTCOME_COLUMNS, "changed_run_id", "resolution", "resolution_note", "resolved_by_id",
                   "resolved_at")


def _store(campaign: Campaign, run: ReconciliationRun, outcomes: dict[str, _Outcome]) -> list[_Outcome]:
    """Write what changed since the stored items (compared by fingerprint); returns the outcomes newly waiting for
    a person's answer. Rows go in and out with ``rows_insert`` / ``rows_update``: a first run creates, and a
    change in the estate may touch, tens of thousands."""
    stored = ReconciliationItem.objects.filter(campaign=campaign).values_list(
        "pk", "key", "fingerprint", "state", "resolution", "routed_to_id"
    )
    existing = {row[1]: row for row in stored}
    created, same_state, linked, cleared, changes, to_tell = [], [], [], [], [], []
    for key, outcome in outcomes.items():
        fingerprint = outcome.fingerprint()
        row = existing.get(key)
        if row is not None and row[2] == fingerprint:
            continue
        values = (*(getattr(outcome, name) for name in _Outcome.FIELDS), fingerprint)
        if row is None:
            created.append((campaign.pk, key, *values, run.pk, "", ""))
            changes.append((run.pk, key, None, "", outcome.state))
            if outcome.state in OPEN_STATES:
                to_tell.append(outcome)
            continue
        pk, _, _, old_state, resolution, routed_to_id = row
        if old_state == outcome.state:
            same_state.append((pk, *values))
            if outcome.state in OPEN_STATES and routed_to_id != outcome.routed_to_id and not resolution:
                to_tell.append(outcome)
            continue
        changes.append((run.pk, key, pk, old_state, outcome.state))
        if resolution == Resolution.LINKED and outcome.match_key == MatchKey.LINKED:  # the link made it match
            linked.append((pk, *values, run.pk))
            continue
        cleared.append((pk, *values, run.pk, "", "", None, None))
        if outcome.state in OPEN_STATES:
            to_tell.append(outcome)
    gone = [(row[0], row[1], row[3]) for key, row in existing.items() if key not in outcomes]
    changes += [(run.pk, key, None, state, "") for _, key, state in gone]
    rows_insert(ReconciliationItem, ITEM_COLUMNS, created)
    rows_update(ReconciliationItem, OUTCOME_COLUMNS, same_state)
    rows_update(ReconciliationItem, (*OUTCOME_COLUMNS, "changed_run_id"), linked)
    rows_update(ReconciliationItem, CLEARED_COLUMNS, cleared)
    for ids in chunked([pk for pk, _, _ in gone]):
        ReconciliationItem.objects.filter(pk__in=ids).delete()
    rows_insert(ReconciliationChange, CHANGE_COLUMNS, changes)
    run.changed = len(changes)
    return to_tell


# What a person is asked about each state, in the message that tells them.
QUESTIONS = {
    State.UNDECLARED: "a scanner sees {name} in your area and nobody declared it: is it yours? what is it for?",
    State.NOT_FOUND: "you declared {name}, no scanner sees it: where does it run? is it retired?",
    State.NOT_FOUND_UNSCANNED: "you declared {name}, on a platform nobody scans: confirm where it runs",
    State.CONFLICT: "{name} is declared by two people: say whose it is",
    State.MISMATCH: "{name}: what you declared and what the scanner sees disagree",
}
# Questions one message lists; the rest wait on the follow-ups page.
QUESTIONS_LISTED = 20


def _tell(campaign: Campaign, run: ReconciliationRun, outcomes: list[_Outcome]) -> None:
    """One message per person newly asked to close gaps in this run (inbox and e-mail), listing the questions."""
    per_person: dict[int, list[_Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.routed_to_id:
            per_person[outcome.routed_to_id].append(outcome)
    rows = []
    for person_id, theirs in per_person.items():
        lines = [f"- {QUESTIONS[outcome.state].format(name=outcome.label or 'a VM')}"
                 for outcome in theirs[:QUESTIONS_LISTED]]
        if len(theirs) > QUESTIONS_LISTED:
            lines.append(f"... and {len(theirs) - QUESTIONS_LISTED} more on your follow-ups page.")
        rows.append(notification_new(
            person_id=person_id, kind=NotificationKind.RECONCILIATION,
            subject=f"{campaign.name}: {len(theirs)} VM{'s' * (len(theirs) != 1)} to check after reconciliation",
            body="Reconciling what was declared with what the scanners see left questions for you:\n\n"
            + "\n".join(lines),
            dedupe_key=f"reconciliation:{run.pk}:{person_id}", link=FOLLOW_UPS_PATH, about=campaign,
        ))
    notifications_notify(rows)


def _counts(outcomes: Iterable[_Outcome]) -> dict[str, int]:
    counts = {state.value: 0 for state in State}
    for outcome in outcomes:
        counts[outcome.state] += 1
    return counts


@transaction.atomic
def reconciliation_run(*, campaign: Campaign, trigger: str, user: User | None = None) -> ReconciliationRun:
    """Reconcile one launched campaign against the whole inventory, writing only what changed; idempotent."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)  # one run of a campaign at a time
    if campaign.status == CampaignStatus.DRAFT:
        raise ValueError(f"“{campaign}” is a draft: nothing was declared yet")
    run = ReconciliationRun.objects.create(
        campaign=campaign, trigger=trigger, requested_by=user, started_at=timezone.now()
    )
    people = _People()
    declared_rows = _declared_rows(campaign)
    estate = _Estate(people, _needs(declared_rows))
    linked = dict(
        ReconciliationItem.objects.filter(campaign=campaign, linked_vm__isnull=False, declared_vm__isnull=False)
        .values_list("declared_vm_id", "linked_vm_id")
    )
    plan = _plan(campaign, declared_rows, estate, people, linked)
    run.written_back = _write_back(plan, estate, campaign, run)
    if run.written_back:  # owners moved: areas and differences are judged again on the facts as stored now
        plan = _plan(campaign, declared_rows, estate, people, linked)
    to_tell = _store(campaign, run, plan.outcomes)
    run.counts = _counts(plan.outcomes.values())
    run.finished_at = timezone.now()
    run.save(update_fields=["changed", "written_back", "counts", "finished_at"])
    audit_log(
        action="reconciliation.run", actor=user, actor_label=f"system: reconciliation ({trigger})", obj=campaign,
        details={"run": run.pk, "counts": run.counts, "changed": run.changed, "written_back": run.written_back},
    )
    _tell(campaign, run, to_tell)
    transaction.on_commit(lambda: reconciliation_completed.send(sender=ReconciliationRun, run=run))
    return run


def campaigns_to_reconcile() -> list[Campaign]:
    """Active campaigns, and closed ones still followed up."""
    since = timezone.now() - datetime.timedelta(days=CLOSED_CAMPAIGNS_FOLLOWED_DAYS)
    return list(
        Campaign.objects.filter(Q(status=CampaignStatus.ACTIVE) | Q(status=CampaignStatus.CLOSED, closed_at__gte=since))
        .order_by("id")
    )


def reconciliation_run_all(*, trigger: str, user: User | None = None) -> list[ReconciliationRun]:
    return [reconciliation_run(campaign=campaign, trigger=trigger, user=user) for campaign in campaigns_to_reconcile()]


def reconciliation_counts_line(counts: dict[str, int]) -> str:
    """``matched=N undeclared=N not_found=N not_found_unscanned=N conflict=N mismatch=N``, as commands print it."""
    return " ".join(f"{state.value}={counts.get(state.value, 0)}" for state in State)


@dataclass(frozen=True)
class _QueuedRun:
    """A reconciliation to queue once the transaction commits; equal ones pending in one transaction are one."""

    campaign_id: int
    trigger: str
    user_id: int | None = None

    def __call__(self) -> None:
        from questionnaires.tasks import reconciliation_run_task  # tasks import services, not the other way round

        reconciliation_run_task.delay(self.campaign_id, self.trigger, self.user_id)


def reconciliation_queue(*, campaign: Campaign, trigger: str, user: User | None = None) -> None:
    """Reconcile a campaign in its own task once the caller's transaction commits (a submission accepted, a
    campaign closed, a person pressed "Reconcile now": ``user``, recorded on the run): the request that triggers
    it never waits for it, and twenty acceptances in one transaction (a bulk review, the demo) queue one run."""
    queued = _QueuedRun(campaign.pk, trigger, user.pk if user is not None else None)
    connection = transaction.get_connection()
    if any(callback == queued for _, callback, _ in connection.run_on_commit):
        return
    transaction.on_commit(queued)
