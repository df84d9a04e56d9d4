# Copyright: selfhosted.dyndns developers
# MIT License (see LICENSE)
"""The host_names filter: every name one entry of dyndns_hosts owns, relative to the zone."""

from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError

# One or more lowercase DNS labels, relative to the zone: www.home, nas.home, printer.
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def _fail(host: str, message: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"host_names: dyndns_hosts entry {host!r}: {message}")


def _relative(host: str, name: object, where: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        message = f"{where} {name!r} is not lowercase DNS labels relative to the zone (www.{host})"
        raise _fail(host, message)
    return name


def _lan(host: str, machine: object) -> dict:
    if not isinstance(machine, dict):
        raise _fail(host, f"lan entry {machine!r} is not a dict with name and interface_id")
    name = _relative(host, machine.get("name"), "lan name")
    try:
        interface_id = ipaddress.IPv6Address(str(machine.get("interface_id", "")).strip())
    except ValueError:
        raise _fail(host, f"lan {name}: interface_id is not an IPv6 address") from None
    length = machine.get("prefix_length", 64)
    if isinstance(length, bool) or not isinstance(length, int) or not 32 <= length <= 120:
        raise _fail(host, f"lan {name}: prefix_length is not a number from 32 to 120")
    host_bits = (1 << (128 - length)) - 1
    if not int(interface_id) & host_bits:
        raise _fail(host, f"lan {name}: interface_id has no bits after the first {length}")
    return {"name": name, "interface_id": interface_id.compressed, "prefix_length": length}


def host_names(host: dict) -> dict:
    """`name`, `aliases` (with `*.name` when `wildcard`), `lan` machines, `acme` name, and
    `address_names`: every name that holds addresses (the host's, its aliases', its LAN's)."""
    name = host.get("name", "")
    aliases = [_relative(name, alias, "alias") for alias in host.get("aliases") or []]
    if host.get("wildcard"):
        aliases.append(f"*.{name}")
    lan = [_lan(name, machine) for machine in host.get("lan") or []]
    return {
        "name": name,
        "aliases": aliases,
        "lan": lan,
        "acme": f"_acme-challenge.{name}",
        "address_names": [name, *aliases, *(machine["name"] for machine in lan)],
    }


class FilterModule:
    def filters(self) -> dict:
        return {"host_names": host_names}
