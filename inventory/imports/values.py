"""Cells of inventory files that are more than text (UUIDs, addresses, power states), and the places rows name."""

import ipaddress
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inventory.choices import PowerState
from inventory.observations import ObservedCluster, ObservedDatacenter, ObservedHost
from portal.tabular.cells import quoted, text

# Power states as vSphere (and RVTools) spell them, by their lower case.
POWER_STATES = {
    "poweredon": PowerState.ON.value,
    "poweredoff": PowerState.OFF.value,
    "suspended": PowerState.SUSPENDED.value,
}
MAC_ADDRESS = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}|[0-9a-f]{12}", re.IGNORECASE)


def power_state_parser(states: dict[str, str], accepted: str) -> Callable[[Any], str]:
    """A reader of power states spelt as ``states`` says (by lower case); ``accepted`` is what a problem suggests."""

    def parse(raw: Any) -> str:
        written = text(raw)
        try:
            return states[written.casefold()]
        except KeyError:
            raise ValueError(f"{quoted(written)} is not a power state ({accepted})") from None

    return parse


def parse_uuid(raw: Any) -> str:
    """A UUID in any of its spellings (braces, upper case), as the canonical lower-case form."""
    written = text(raw)
    try:
        return str(uuid.UUID(written))
    except ValueError:
        raise ValueError(f"{quoted(written)} is not a UUID") from None


def _parse_ip(written: str) -> str:
    try:
        return str(ipaddress.ip_address(written))
    except ValueError:
        raise ValueError(f"{quoted(written)} is not an IP address") from None


def _parse_mac(written: str) -> str:
    if not MAC_ADDRESS.fullmatch(written):
        raise ValueError(f"{quoted(written)} is not a MAC address")
    digits = re.sub(r"[:-]", "", written).lower()
    return ":".join(digits[index : index + 2] for index in range(0, 12, 2))


def _parse_list(raw: Any, parse_one: Callable[[str], str]) -> list[str]:
    """Addresses separated by ``;``, ``,`` or white space; every bad one is named in one message."""
    values, bad = [], []
    for token in re.split(r"[;,\s]+", text(raw)):
        if not token:
            continue
        try:
            values.append(parse_one(token))
        except ValueError as exc:
            bad.append(str(exc))
    if bad:
        raise ValueError("; ".join(bad))
    return values


def parse_ips(raw: Any) -> list[str]:
    """IPv4 and IPv6 addresses, each as ``ipaddress`` spells it."""
    return _parse_list(raw, _parse_ip)


def parse_macs(raw: Any) -> list[str]:
    """MAC addresses (``00:15:5d:01:02:03``, ``00-15-5D-01-02-03``, ``00155D010203``) as ``00:15:5d:01:02:03``."""
    return _parse_list(raw, _parse_mac)


def add_unique(target: list[str], values: list[str]) -> None:
    for value in values:
        if value and value not in target:
            target.append(value)


@dataclass
class Places:
    """The datacenters, clusters and hosts rows name, by key: names, not identities (see ``place``)."""

    datacenters: dict[str, ObservedDatacenter] = field(default_factory=dict)
    clusters: dict[str, ObservedCluster] = field(default_factory=dict)
    hosts: dict[str, ObservedHost] = field(default_factory=dict)  # by host name

    def place(self, datacenter: str, cluster: str, host: str) -> tuple[str, str]:
        """Record the datacenter, cluster and host a row names; their keys (``dc:<datacenter>``,
        ``cluster:<datacenter>/<cluster>``; a host's is ``host:<host>`` until something better is known)."""
        datacenter_key = f"dc:{datacenter}" if datacenter else ""
        if datacenter:
            self.datacenters.setdefault(datacenter_key, ObservedDatacenter(key=datacenter_key, name=datacenter))
        cluster_key = f"cluster:{datacenter}/{cluster}" if cluster else ""
        if cluster:
            self.clusters.setdefault(
                cluster_key, ObservedCluster(key=cluster_key, name=cluster, datacenter_key=datacenter_key)
            )
        if host:
            self.hosts.setdefault(
                host,
                ObservedHost(key=f"host:{host}", name=host, cluster_key=cluster_key, datacenter_key=datacenter_key),
            )
        return datacenter_key, cluster_key
