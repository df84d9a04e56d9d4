"""Pure parsing and formatting of the dyndns2 protocol: no I/O here."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import parse_qs

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Params = Mapping[str, Sequence[str]]

MAX_TXT_VALUES = 4
CLEAR = "none"  # the value of myipv4/myipv6/myip6 that deletes the family
PREFIX_LENGTHS = range(32, 65)  # what a router may report as its LAN prefix
MAX_TXT_LENGTH = 255
ACME_LABEL = "_acme-challenge"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
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
    BADTXT = "badtxt"  # our extension: a TXT value we do not accept, or a full TXT set


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
    txt_add: tuple[str, ...] = ()  # TXT values to add to the set, keeping the others
    txt_delete: tuple[str, ...] = ()  # TXT values to remove from the set, one by one
    txt_recent: bool = False  # acme-dns: keep the most recent other value only (update.py)
    clear: frozenset[str] = frozenset()  # "A"/"AAAA": delete that family at the host's names
    lan_prefix: ipaddress.IPv6Address | None = None  # the router's LAN prefix, as given
    empty: frozenset[str] = frozenset()  # families whose parameter came empty, nothing else
    from_caller: bool = False  # the address is the caller's own (no address parameter)

    @property
    def addresses(self) -> tuple[IPAddress, ...]:
        return tuple(a for a in (self.ipv4, self.ipv6) if a is not None)

    @property
    def edits_txt(self) -> bool:
        """Whether the request adds or removes single TXT values (addtxt/deltxt)."""
        return bool(self.txt_add or self.txt_delete)

    @property
    def prefix(self) -> ipaddress.IPv6Address | None:
        """Where the LAN machines' addresses take their prefix from: the prefix the router
        reported, else the IPv6 address the request carries (its /64 by default)."""
        return self.lan_prefix or self.ipv6

    def for_host(self, empty_clears: bool) -> UpdateRequest:
        """The request as a host with `empty_clears` reads it: an empty address parameter
        deletes that family (deSEC's convention), and the caller's own address is not used."""
        if not empty_clears or not self.empty:
            return self
        kept = {} if not self.from_caller else {"ipv4": None, "ipv6": None}
        return replace(
            self, clear=self.clear | self.empty, empty=frozenset(), from_caller=False, **kept
        )


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


def _check_txt_values(values: Sequence[str], name: str) -> None:
    """Each value 1..255 printable ASCII characters; BadRequest(badtxt) otherwise."""
    for value in values:
        if not 1 <= len(value) <= MAX_TXT_LENGTH:
            raise BadRequest(Code.BADTXT, f"{name} value not 1..{MAX_TXT_LENGTH} characters")
        if not all(" " <= ch <= "~" for ch in value):
            raise BadRequest(Code.BADTXT, f"{name} value not printable ASCII")


def parse_txt(values: Sequence[str] | None) -> tuple[str, ...] | None:
    """The TXT set asked for: None when `txt` is absent, () for a single empty `txt=`."""
    if values is None:
        return None
    if list(values) == [""]:
        return ()
    if len(values) > MAX_TXT_VALUES:
        raise BadRequest(Code.BADTXT, f"more than {MAX_TXT_VALUES} txt values")
    _check_txt_values(values, "txt")
    return tuple(dict.fromkeys(values))


def parse_txt_edits(params: Params) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The values of `addtxt` and `deltxt` (each repeatable): what to add to and remove from
    the TXT set, by the same rules as `txt`, at most 4 in all; never with `txt`, and never
    one value both added and removed."""
    add, delete = params.get("addtxt", []), params.get("deltxt", [])
    if not add and not delete:
        return (), ()
    if "txt" in params:
        raise BadRequest(Code.BADTXT, "txt together with addtxt or deltxt")
    if len(add) + len(delete) > MAX_TXT_VALUES:
        raise BadRequest(Code.BADTXT, f"more than {MAX_TXT_VALUES} addtxt and deltxt values")
    _check_txt_values(add, "addtxt")
    _check_txt_values(delete, "deltxt")
    if set(add) & set(delete):
        raise BadRequest(Code.BADTXT, "one value both in addtxt and deltxt")
    return tuple(dict.fromkeys(add)), tuple(dict.fromkeys(delete))


# The address parameters: name -> the family it may carry (None: either).
ADDRESS_PARAMS = {"myip": None, "myipv4": 4, "myipv6": 6, "myip6": 6}
PREFIX_PARAMS = ("ip6lanprefix", "myipv6prefix")
_FAMILY_TYPE = {4: "A", 6: "AAAA"}


def parse_prefix(params: Params) -> ipaddress.IPv6Address | None:
    """The LAN prefix a router reports (`2001:db8:1:2::/64`; without a length, /64), as
    its network address; None when no prefix parameter holds a value."""
    prefixes = set()
    for item in [i for name in PREFIX_PARAMS for i in split_values(params.get(name))]:
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise BadRequest(Code.BADIP, "prefix unusable") from None
        if isinstance(network, ipaddress.IPv4Network):
            raise BadRequest(Code.BADIP, "IPv4 prefix in an IPv6 prefix parameter")
        if "/" not in item:
            network = network.supernet(new_prefix=64)
        if network.prefixlen not in PREFIX_LENGTHS:
            raise BadRequest(Code.BADIP, "prefix length not /32 to /64")
        if "%" in item or not is_usable_address(network.network_address):
            raise BadRequest(Code.BADIP, "prefix unusable")
        prefixes.add(network.network_address)
    if len(prefixes) > 1:
        raise BadRequest(Code.BADIP, "more than one prefix")
    return next(iter(prefixes), None)


def lan_address(
    prefix: ipaddress.IPv6Address, interface_id: ipaddress.IPv6Address, length: int
) -> ipaddress.IPv6Address:
    """The first `length` bits of `prefix`, the rest of `interface_id`."""
    host_bits = (1 << (128 - length)) - 1
    return ipaddress.IPv6Address((int(prefix) & ~host_bits) | (int(interface_id) & host_bits))


def parse_update_request(params: Params, remote_addr: str | None) -> UpdateRequest:
    """Addresses, families to clear, LAN prefix and TXT values of a request, by the rules
    in README.md.

    Explicit address parameters win; without any, the caller's own address is used,
    unless the request carries `txt`, `addtxt` or `deltxt` (then no address is set).
    """
    txt = parse_txt(params.get("txt"))
    txt_add, txt_delete = parse_txt_edits(params)
    found: dict[str, set[IPAddress]] = {"A": set(), "AAAA": set()}
    clear: set[str] = set()
    empty: set[str] = set()
    for name, family in ADDRESS_PARAMS.items():
        items = split_values(params.get(name))
        if name in params and not items:
            empty.add(_FAMILY_TYPE.get(family or 4, "A"))
        for item in items:
            if item.lower() == CLEAR:
                if family is None:
                    raise BadRequest(Code.BADIP, "none in myip: say myipv4=none or myipv6=none")
                clear.add(_FAMILY_TYPE[family])
                continue
            address = parse_address(item)
            if address is None:
                raise BadRequest(Code.BADIP, "address unusable")
            if family is not None and address.version != family:
                raise BadRequest(Code.BADIP, f"IPv{address.version} address in {name}")
            found[_FAMILY_TYPE[address.version]].add(address)
    empty -= clear | {rdtype for rdtype, addresses in found.items() if addresses}
    touches_txt = txt is not None or txt_add or txt_delete
    from_caller = not any(found.values()) and not clear and not touches_txt
    if from_caller:
        address = parse_address(remote_addr or "")
        if address is None:
            raise BadRequest(Code.BADIP, "address unusable")
        found[_FAMILY_TYPE[address.version]].add(address)
    if any(len(addresses) > 1 for addresses in found.values()):
        raise BadRequest(Code.BADIP, "more than one address of a family")
    if any(found[rdtype] for rdtype in clear):
        raise BadRequest(Code.BADIP, "a family both set and cleared")
    addresses = [a for family in found.values() for a in family]
    return UpdateRequest(
        ipv4=next((a for a in addresses if isinstance(a, ipaddress.IPv4Address)), None),
        ipv6=next((a for a in addresses if isinstance(a, ipaddress.IPv6Address)), None),
        txt=txt,
        txt_add=txt_add,
        txt_delete=txt_delete,
        clear=frozenset(clear),
        lan_prefix=parse_prefix(params),
        empty=frozenset(empty),
        from_caller=from_caller,
    )


# acme-dns's update API: a JSON body {"subdomain": ..., "txt": ...}; its TXT values are
# 43 characters of base64url, as an ACME DNS-01 value is.
_ACME_DNS_TXT = re.compile(r"[A-Za-z0-9_-]{43}")


class AcmeDnsError(ValueError):
    """A body acme-dns's update API refuses; `error` is acme-dns's word for it."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def parse_acme_dns(body: bytes | None, zone: str) -> tuple[str, str]:
    """(host name, TXT value) of an acme-dns update body. `subdomain` is the host's name:
    its FQDN, or without a dot, the label(s) before `zone` (`home` for home.<zone>)."""
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise AcmeDnsError("malformed_json_payload")
    subdomain, value = data.get("subdomain"), data.get("txt")
    name = None
    if isinstance(subdomain, str) and subdomain:
        name = normalize_hostname(subdomain if "." in subdomain else f"{subdomain}.{zone}")
    if name is None or not is_in_zone(name, zone):
        raise AcmeDnsError("bad_subdomain")
    if not isinstance(value, str) or not _ACME_DNS_TXT.fullmatch(value):
        raise AcmeDnsError("bad_txt")
    return name, value


def txt_action(request: UpdateRequest) -> str | None:
    """What `request` does to the TXT records, in words, never their values: `set` or
    `delete` (`txt`), `add`, `remove` or `add,remove` (`addtxt`/`deltxt`); None: nothing."""
    if request.txt is not None:
        return "set" if request.txt else "delete"
    if request.edits_txt:
        return ",".join(
            what
            for what, values in (("add", request.txt_add), ("remove", request.txt_delete))
            if values
        )
    return None


def format_addresses(addresses: Sequence[IPAddress]) -> str:
    return ",".join(str(a) for a in addresses)


def format_line(code: Code, addresses: Sequence[IPAddress] = ()) -> str:
    """One answer line: `good`/`nochg` carry the addresses set, if any."""
    if code in (Code.GOOD, Code.NOCHG) and addresses:
        return f"{code} {format_addresses(addresses)}"
    return str(code)


def format_body(lines: Sequence[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("ascii")
