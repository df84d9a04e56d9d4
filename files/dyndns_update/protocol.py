"""Pure parsing and formatting of the dyndns2 protocol: no I/O here."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Params = Mapping[str, Sequence[str]]

MAX_TXT_VALUES = 4
MAX_TXT_LENGTH = 255
ACME_LABEL = "_acme-challenge"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")


class Code(StrEnum):
    """The answer codes; every one but BADIP and BADTXT is standard dyndns2."""

    GOOD = "good"
    NOCHG = "nochg"
    BADAUTH = "badauth"
    NOTFQDN = "notfqdn"
    NOHOST = "nohost"
    NUMHOST = "numhost"
    ABUSE = "abuse"
    BADAGENT = "badagent"
    DNSERR = "dnserr"
    SERVERERROR = "911"
    BADIP = "badip"  # our extension: an address that cannot be a host's
    BADTXT = "badtxt"  # our extension: a TXT value we do not accept


class BadRequest(ValueError):
    """The request as a whole cannot be served; `code` is the answer for every host."""

    def __init__(self, code: Code, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class UpdateRequest:
    """What one request asks to set, for each host it names."""

    ipv4: ipaddress.IPv4Address | None = None
    ipv6: ipaddress.IPv6Address | None = None
    txt: tuple[str, ...] | None = None  # None: leave TXT alone; (): delete the TXT set

    @property
    def addresses(self) -> tuple[IPAddress, ...]:
        return tuple(a for a in (self.ipv4, self.ipv6) if a is not None)


def parse_query(query_string: str) -> dict[str, list[str]]:
    """The parameters of a query string; blank values are kept."""
    return parse_qs(query_string, keep_blank_values=True)


def split_values(values: Sequence[str] | None) -> list[str]:
    """All comma-separated items of a repeatable parameter, stripped, empty items dropped."""
    items: list[str] = []
    for value in values or ():
        items.extend(item.strip() for item in value.split(","))
    return [item for item in items if item]


def normalize_hostname(raw: str) -> str | None:
    """The lowercase FQDN without trailing dot, or None when `raw` is not a valid FQDN."""
    name = raw.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii() or len(name) > 253:
        return None
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return None
    if labels[-1].isdigit():  # a top-level label is never all digits (rules out IPs)
        return None
    return name


def is_in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def acme_name(host: str) -> str:
    """Where the DNS-01 TXT records of `host` live."""
    return f"{ACME_LABEL}.{host}"


def parse_address(text: str) -> IPAddress | None:
    """A usable host address, or None for garbage and for addresses no host can have."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return None
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
    return address if is_usable_address(address) else None


def is_usable_address(address: IPAddress) -> bool:
    """False for addresses that cannot be a host's on the network."""
    if (
        address.is_unspecified
        or address.is_loopback
        or address.is_multicast
        or address.is_link_local
        or address.is_reserved
    ):
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address not in _THIS_NETWORK
    return not address.is_site_local


def parse_txt(values: Sequence[str] | None) -> tuple[str, ...] | None:
    """The TXT set asked for: None when `txt` is absent, () for a single empty `txt=`."""
    if values is None:
        return None
    if list(values) == [""]:
        return ()
    if len(values) > MAX_TXT_VALUES:
        raise BadRequest(Code.BADTXT, f"more than {MAX_TXT_VALUES} txt values")
    for value in values:
        if not 1 <= len(value) <= MAX_TXT_LENGTH:
            raise BadRequest(Code.BADTXT, f"txt value not 1..{MAX_TXT_LENGTH} characters")
        if not all(" " <= ch <= "~" for ch in value):
            raise BadRequest(Code.BADTXT, "txt value not printable ASCII")
    return tuple(dict.fromkeys(values))


def parse_update_request(params: Params, remote_addr: str | None) -> UpdateRequest:
    """Addresses and TXT values of a request, by the rules in README.md.

    Explicit `myip`/`myipv6`/`myip6` values win; without them the caller's own
    address is used, unless the request carries `txt` (then no address is set).
    """
    txt = parse_txt(params.get("txt"))
    v4_items = split_values(params.get("myip"))
    v6_items = split_values(params.get("myipv6")) + split_values(params.get("myip6"))
    if not v4_items and not v6_items:
        if txt is not None:
            return UpdateRequest(txt=txt)
        v4_items = [remote_addr or ""]
    ipv4: set[ipaddress.IPv4Address] = set()
    ipv6: set[ipaddress.IPv6Address] = set()
    for items, only_v6 in ((v4_items, False), (v6_items, True)):
        for item in items:
            address = parse_address(item)
            if address is None:
                raise BadRequest(Code.BADIP, "address unusable")
            if isinstance(address, ipaddress.IPv6Address):
                ipv6.add(address)
            elif only_v6:
                raise BadRequest(Code.BADIP, "IPv4 address in an IPv6 parameter")
            else:
                ipv4.add(address)
    if len(ipv4) > 1 or len(ipv6) > 1:
        raise BadRequest(Code.BADIP, "more than one address of a family")
    return UpdateRequest(
        ipv4=next(iter(ipv4), None),
        ipv6=next(iter(ipv6), None),
        txt=txt,
    )


def format_addresses(addresses: Sequence[IPAddress]) -> str:
    return ",".join(str(a) for a in addresses)


def format_line(code: Code, addresses: Sequence[IPAddress] = ()) -> str:
    """One answer line: `good`/`nochg` carry the addresses set, if any."""
    if code in (Code.GOOD, Code.NOCHG) and addresses:
        return f"{code} {format_addresses(addresses)}"
    return str(code)


def format_body(lines: Sequence[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("ascii")
