# Copyright: selfhosted.dyndns developers
# MIT License (see LICENSE)
"""The canonical_ip filter: an IP address in the one form Knot and dig print."""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError


def canonical_ip(value: object) -> str:
    """`FD53:0053:0:0::0010` -> `fd53:53::10`; IPv4 stays dotted quad."""
    try:
        return ipaddress.ip_address(str(value).strip()).compressed
    except ValueError:
        message = f"canonical_ip: {value!r} is not an IPv4 or IPv6 address"
        raise AnsibleFilterError(message) from None


class FilterModule:
    def filters(self) -> dict:
        return {"canonical_ip": canonical_ip}
