# Copyright: selfhosted.dyndns developers
# MIT License (see LICENSE)

"""The checks of delegation_info: what each answer must say, the problem (with its fix) when
it does not, and run_checks, which asks the servers through a Querier and collects them."""

from __future__ import annotations

import ipaddress
import secrets
import time
import traceback
from collections.abc import Callable, Collection, Iterable
from functools import partial, reduce
from typing import Any, TypedDict

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.selfhosted.dyndns.plugins.module_utils.querier import (
    Delegation,
    DsSet,
    NoAnswer,
    Querier,
    Rcode,
    Signed,
    Soa,
    ask,
    normalize,
    record_values,
    summarize_delegation,
    summarize_ds,
    summarize_rcode,
    summarize_signed,
    summarize_soa,
)

CRYPTOGRAPHY_IMPORT_ERROR: str | None
try:
    # imported only to learn whether it is there: dns.dnssec.validate needs it (with dnssec)
    import cryptography  # noqa: F401  # pylint: disable=unused-import
except ImportError:
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

DNSSEC_IMPORT_ERROR: str | None
try:
    import dns.dnssec
    import dns.exception
    import dns.name
except ImportError:  # no dnspython (querier says so first), or dnspython >= 2.4 with a
    DNSSEC_IMPORT_ERROR = traceback.format_exc()  # broken cryptography
else:
    DNSSEC_IMPORT_ERROR = None

ZONE_KEY_FLAG = 0x0100  # DNSKEY flags: a zone key ...
SEP_FLAG = 0x0001  # ... with the secure entry point flag: 257 is a key-signing key
POLL_INTERVAL = 0.2  # seconds between the wait_for queries to one server


class Problem(TypedDict):
    """One failed check, as the module returns it in `problems`."""

    check: str
    server: str
    zone: str
    record: str
    found: Any
    expected: Any
    fix: str


class NameServer(TypedDict, total=False):
    """One entry of the nameservers option, or the primary option (without external); ipv4
    or ipv6 may be None or missing."""

    name: str
    ipv4: str | None
    ipv6: str | None
    external: bool  # a secondary DNS service the collection does not manage


class WaitFor(TypedDict):
    """The wait_for option."""

    name: str
    type: str
    value: str
    timeout: float


def in_zone(name: str, zone: str) -> bool:
    """Whether NAME is ZONE or below it (so its address needs glue at the parent)."""
    name, zone = normalize(name), normalize(zone)
    return name == zone or name.endswith("." + zone)


def assumed_parent(zone: str) -> str:
    """ZONE without its first label: the parent zone when nobody found a better one."""
    labels = normalize(zone).split(".", 1)
    return labels[1] if len(labels) == 2 else "."


def server_label(name: str, address: str) -> str:
    return f"{normalize(name)} ({address})"


HIDDEN = " (hidden primary)"  # after the server_label of the hidden primary's addresses


def at_parent(parent_zone: str) -> str:
    return f"At the parent zone {normalize(parent_zone) or '.'} (your registrar)"


# --- the arguments ---------------------------------------------------------------------------


def check_arguments(  # noqa: PLR0913 (the module's options that can be wrong)
    zone: str,
    nameservers: list[NameServer],
    *,
    parent_servers: list[str] | None = None,
    port: int = 53,
    timeout: float = 3.0,
    wait_for: WaitFor | None = None,
    primary: NameServer | None = None,
) -> list[str]:
    """What is wrong with the module's options beyond their types; empty when nothing.

    A name server outside ZONE may come without addresses (run_checks resolves its name); one
    inside needs them, as the parent needs its glue. The primary needs an address, and must
    not be one of the name servers (it would not be hidden)."""
    errors = []
    try:
        dns.name.from_text(zone)
    except dns.exception.DNSException as e:
        errors.append(f"zone {zone!r} is not a DNS name: {e}")
    if not nameservers:
        errors.append("nameservers must name at least one server")
    for ns in nameservers:
        if not ns.get("name"):
            errors.append(f"a name server has no name: {ns!r}")
            continue
        if not ns.get("ipv4") and not ns.get("ipv6") and in_zone(ns["name"], zone):
            errors.append(
                f"name server {ns['name']} needs ipv4 or ipv6: it is inside {normalize(zone)}, "
                f"so the parent needs its glue"
            )
        errors.extend(address_errors(f"name server {ns['name']}", ns))
    if primary:
        if normalize(primary["name"]) in {normalize(ns.get("name") or "") for ns in nameservers}:
            errors.append(
                f"primary {primary['name']} is one of the nameservers, so it is not hidden: "
                f"leave primary out (every name server is checked)"
            )
        if not primary.get("ipv4") and not primary.get("ipv6"):
            errors.append(f"primary {primary['name']} needs ipv4 or ipv6")
        errors.extend(address_errors(f"primary {primary['name']}", primary))
    errors.extend(
        f"parent_servers: {server!r} is not an IP address"
        for server in parent_servers or []
        if not is_address(server)
    )
    if not 0 < port < 65536:
        errors.append(f"port {port} is out of range")
    if timeout <= 0:
        errors.append("timeout must be positive")
    if wait_for:
        errors.extend(check_wait_for(zone, wait_for))
    return errors


def address_errors(what: str, server: NameServer) -> list[str]:
    """What is wrong with SERVER's ipv4 and ipv6 (WHAT names it in the messages)."""
    return [
        f"{what}: {server[key]!r} is not an {key} address"
        for key, version in (("ipv4", 4), ("ipv6", 6))
        if server.get(key) and not is_address(server[key], version)
    ]


def is_address(text: str, version: int | None = None) -> bool:
    """Whether TEXT is an IP address (of VERSION, 4 or 6, when given)."""
    try:
        return version in (None, ipaddress.ip_address(text).version)
    except ValueError:
        return False


def check_wait_for(zone: str, wait_for: WaitFor) -> list[str]:
    """What is wrong with the wait_for option; empty when it is fine."""
    errors = []
    try:
        dns.name.from_text(wait_for["name"])
    except dns.exception.DNSException as e:
        errors.append(f"wait_for.name {wait_for['name']!r} is not a DNS name: {e}")
    else:
        if not in_zone(wait_for["name"], zone):
            errors.append(f"wait_for.name {wait_for['name']!r} is not in the zone {zone}")
    if wait_for["type"] in ("A", "AAAA"):
        version = 4 if wait_for["type"] == "A" else 6
        if not is_address(wait_for["value"], version):
            errors.append(
                f"wait_for.value {wait_for['value']!r} is not an IPv{version} address "
                f"(type {wait_for['type']})"
            )
    if wait_for["timeout"] <= 0:
        errors.append("wait_for.timeout must be positive")
    return errors


def cryptography_missing() -> str | None:
    """Why dns.dnssec.validate cannot work here (a message for fail_json); None when it can."""
    reason = "to validate DNSSEC signatures (dnssec: true)"
    if CRYPTOGRAPHY_IMPORT_ERROR is not None:
        return missing_required_lib("cryptography", reason=reason)
    # dnspython >= 2.4 also refuses a cryptography older than it needs; it then says so here
    if not getattr(dns.dnssec, "_have_pyca", True):
        return (
            missing_required_lib("cryptography", reason=reason)
            + " (cryptography is installed, but too old for this dnspython)"
        )
    return None


# --- the delegation at the parent ------------------------------------------------------------


def compare_ns_set(
    zone: str, parent_zone: str, server: str, found: set[str], expected: set[str]
) -> list[Problem]:
    """Problems when the parent SERVER's NS set for ZONE differs from the expected one."""
    found_n = sorted({normalize(n) for n in found})
    expected_n = sorted({normalize(n) for n in expected})
    if found_n == expected_n:
        return []
    zone = normalize(zone)
    fix = f"{at_parent(parent_zone)}, set the NS records of {zone} to: {', '.join(expected_n)}."
    return [
        Problem(
            check="parent_ns",
            server=server,
            zone=zone,
            record=f"{zone} NS",
            found=found_n,
            expected=expected_n,
            fix=fix,
        )
    ]


def compare_glue(
    zone: str,
    parent_zone: str,
    server: str,
    nameservers: list[NameServer],
    glue: dict[str, dict[str, set[str]]],
) -> list[Problem]:
    """Problems with the glue the parent SERVER sent (see Delegation). Only name servers
    inside ZONE need glue; for them each given address must be there, and nothing else."""
    zone = normalize(zone)
    problems = []
    for ns in nameservers:
        name = normalize(ns["name"])
        if not in_zone(name, zone):
            continue
        have = glue.get(name, {})
        for rdtype, key in (("A", "ipv4"), ("AAAA", "ipv6")):
            address = ns.get(key)
            want = {str(ipaddress.ip_address(address))} if address else set()
            got = {str(ipaddress.ip_address(a)) for a in have.get(rdtype, set())}
            if got == want:
                continue
            if not got:
                fix = f"{at_parent(parent_zone)}: add glue: {name} {rdtype} {address}"
            elif not want:
                fix = (
                    f"{at_parent(parent_zone)}: remove the glue {name} {rdtype} "
                    f"{', '.join(sorted(got))} (the server has no such address)."
                )
            else:
                fix = (
                    f"{at_parent(parent_zone)}, set the glue of {name} to: "
                    f"{rdtype} {', '.join(sorted(want))}."
                )
            problems.append(
                Problem(
                    check="glue",
                    server=server,
                    zone=zone,
                    record=f"{name} {rdtype}",
                    found=sorted(got),
                    expected=sorted(want),
                    fix=fix,
                )
            )
    return problems


def delegation_problems(
    zone: str,
    parent_zone: str,
    server: str,
    answer: Delegation | NoAnswer,
    nameservers: list[NameServer],
) -> list[Problem]:
    """Problems in one parent server's answer to `ZONE NS`."""
    zone = normalize(zone)
    expected = sorted({normalize(ns["name"]) for ns in nameservers})
    if "error" in answer:
        found: Any = answer["error"]
        fix = (
            f"The parent server {server} did not answer; check parent_servers, or that "
            f"{normalize(parent_zone)} is served there, then run the check again."
        )
    elif answer["rcode"] != "NOERROR" or answer["ns"] is None:
        found = answer["rcode"] if answer["rcode"] != "NOERROR" else "no delegation"
        fix = f"{at_parent(parent_zone)}, set the NS records of {zone} to: {', '.join(expected)}."
    else:
        return compare_ns_set(
            zone, parent_zone, server, set(answer["ns"]), set(expected)
        ) + compare_glue(zone, parent_zone, server, nameservers, answer["glue"])
    return [
        Problem(
            check="parent_ns",
            server=server,
            zone=zone,
            record=f"{zone} NS",
            found=found,
            expected=expected,
            fix=fix,
        )
    ]


# --- the name servers ------------------------------------------------------------------------


def soa_problems(
    zone: str, server: str, answer: Soa | NoAnswer, *, hidden: bool = False
) -> list[Problem]:
    """Problems in one name server's (or, HIDDEN, the hidden primary's) answer to `ZONE SOA`."""
    zone = normalize(zone)
    if "error" in answer and hidden:
        found = answer["error"]
        fix = (
            f"Make {server} answer DNS queries from the host the check runs on (is the server "
            f"running, the port open to this host?), or correct the primary's address."
        )
    elif "error" in answer:
        found = answer["error"]
        fix = (
            f"Make {server} answer DNS queries from the internet (is the server running, the "
            f"port open in every firewall?), or correct its address at the parent zone."
        )
    elif answer["rcode"] != "NOERROR":
        found = answer["rcode"]
        fix = f"Configure {server} to serve the zone {zone}."
    elif not answer["aa"]:
        found = "answer without AA flag"
        fix = f"Configure {server} to serve the zone {zone} authoritatively."
    elif answer["serial"] is None:
        found = "no SOA record in the answer"
        fix = f"Configure {server} to serve the zone {zone} (it has no SOA for it)."
    else:
        return []
    return [
        Problem(
            check="soa",
            server=server,
            zone=zone,
            record=f"{zone} SOA",
            found=found,
            expected="authoritative SOA (NOERROR, AA)",
            fix=fix,
        )
    ]


SERIAL_GRACE = 5.0  # seconds a secondary may take to follow an update made just before


def serial_difference(serial: int, other: int) -> int:
    """SERIAL minus OTHER in RFC 1982 serial arithmetic: positive when SERIAL is newer (one
    that wrapped past 2**32 - 1 to a small number is newer), negative when it is older."""
    difference = (serial - other) % 2**32
    return difference - 2**32 if difference >= 2**31 else difference


def newest_serial(serials: Iterable[int]) -> int:
    """The newest of SERIALS in RFC 1982 serial arithmetic."""
    return reduce(lambda newest, s: s if serial_difference(s, newest) > 0 else newest, serials)


def settle_serials(
    serials: dict[str, int],
    ask_serial: Callable[[str], int | None],
    grace: float = SERIAL_GRACE,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Ask the servers behind the newest serial again, every 0.2 s for up to `grace` seconds,
    and keep what they answer in `serials`: an update made a moment before the check reaches
    the secondaries a second or two later (Knot sends its NOTIFY up to a second after it)."""
    deadline = clock() + grace
    while len(set(serials.values())) > 1 and clock() < deadline:
        sleep(0.2)
        newest = newest_serial(serials.values())
        for label in [label for label, serial in serials.items() if serial != newest]:
            serial = ask_serial(label)
            if serial is not None:
                serials[label] = serial


def compare_serials(
    zone: str,
    serials: dict[str, int],
    primary: Collection[str] = (),
    external: Collection[str] = (),
) -> list[Problem]:
    """Problems for each server whose serial is behind the newest one seen, or, with a hidden
    primary (its labels: PRIMARY), differs from the primary's: a server ahead of it got the
    zone from another primary. EXTERNAL: the labels of secondary services the collection does
    not manage (the fix says to look there)."""
    if len(set(serials.values())) <= 1:
        return []
    zone = normalize(zone)
    reference = [label for label in sorted(serials) if label in primary] or sorted(serials)
    newest = newest_serial(serials[label] for label in reference)
    holder = next(label for label in reference if serials[label] == newest)
    problems = []
    for server, serial in sorted(serials.items()):
        lag = serial_difference(newest, serial)
        if lag == 0:
            continue
        if lag > 0:
            state = (
                f"{lag} behind (with Knot's serial-policy unixtime, about {lag} s of updates "
                f"it lacks)"
            )
            if server in external:
                advice = (
                    "it is an external secondary service: look at its transfer log and "
                    "settings there; the addresses it transfers from and its TSIG key must be "
                    "the ones the primary allows, and the primary must send it NOTIFY."
                )
            else:
                advice = "make the secondary servers transfer the zone (NOTIFY, AXFR/IXFR allowed)."
        else:
            state = f"{-lag} ahead of the hidden primary: another primary feeds it"
            if server in external:
                advice = (
                    "it is an external secondary service: in its settings there, make the "
                    "hidden primary's addresses its only primary."
                )
            else:
                advice = "make the hidden primary its only primary (the remote it transfers from)."
        problems.append(
            Problem(
                check="serial",
                server=server,
                zone=zone,
                record=f"{zone} SOA",
                found=serial,
                expected=newest,
                fix=f"{server} serves serial {serial} of {zone} while {holder} has {newest}: "
                f"{state}; {advice}",
            )
        )
    return problems


def nxdomain_problems(
    zone: str, server: str, qname: str, answer: Rcode | NoAnswer
) -> list[Problem]:
    """Problems in one name server's answer (rcode and AA) for a name that does not exist."""
    zone = normalize(zone)
    if "error" in answer:
        found = answer["error"]
    elif answer["rcode"] == "NXDOMAIN" and answer["aa"]:
        return []
    elif answer["rcode"] == "NXDOMAIN":
        found = "NXDOMAIN without AA flag"
    else:
        found = answer["rcode"] + (" with AA flag" if answer["aa"] else " without AA flag")
    fix = (
        f"Make {server} answer authoritatively for {zone}: a name that does not exist must "
        f"get NXDOMAIN (no wildcard, no forwarding or recursion for names in the zone)."
    )
    return [
        Problem(
            check="nxdomain",
            server=server,
            zone=zone,
            record=f"{normalize(qname)} A",
            found=found,
            expected="NXDOMAIN with AA flag",
            fix=fix,
        )
    ]


# --- DS at the parent, DNSSEC on the name servers --------------------------------------------


def sep_keys(keys: list[Any]) -> list[Any]:
    """The key-signing keys among the DNSKEY rdatas KEYS: zone keys with the SEP flag (257)."""
    return [k for k in keys if k.flags & ZONE_KEY_FLAG and k.flags & SEP_FLAG]


def expected_ds(zone: str, keys: list[Any]) -> list[Any]:
    """The SHA-256 DS rdatas the parent should have for the key-signing keys among KEYS."""
    return [dns.dnssec.make_ds(normalize(zone) + ".", k, "SHA256") for k in sep_keys(keys)]


def ds_text(zone: str, ds: Any) -> str:
    """A DS rdata in zone-file form, as `keymgr ZONE ds` prints it."""
    return f"{normalize(zone)}. DS {ds.to_text()}"


def ds_matches(zone: str, ds: Any, keys: list[Any]) -> bool:
    """Whether the DS rdata DS is the digest, of its own digest type, of one of KEYS."""
    for key in keys:
        try:
            computed = dns.dnssec.make_ds(
                normalize(zone) + ".", key, ds.digest_type, validating=True
            )
        except dns.exception.DNSException:  # a digest type dnspython cannot or will not make
            continue
        if computed == ds:
            return True
    return False


def compare_ds(  # noqa: PLR0913 (one argument per part of the comparison)
    zone: str,
    parent_zone: str,
    server: str,
    found: list[Any],
    keys: list[Any],
    *,
    dnssec: bool,
) -> list[Problem]:
    """Problems with the DS rdatas FOUND at the parent SERVER, given the DNSKEY rdatas KEYS
    the name servers serve.

    Meant to be signed (DNSSEC): at least one DS must match a key-signing key; more DS next to
    it are fine (a key rollover). Without keys to compare with the zone's own dnssec problems
    say what is wrong. Not meant to be signed: DS records are fine only when one matches a
    served key (someone signs the zone after all)."""
    zone = normalize(zone)
    want: list[str] = []
    if dnssec:
        want = sorted(ds_text(zone, d) for d in expected_ds(zone, keys))
        if not want or any(ds_matches(zone, d, sep_keys(keys)) for d in found):
            return []
        records = "DS record" if len(want) == 1 else "DS records"
        if not found:
            fix = f"{at_parent(parent_zone)}, add the {records} for {zone}: {'; '.join(want)}."
        else:
            fix = (
                f"{at_parent(parent_zone)}, replace the DS record(s) of {zone} with: "
                f"{'; '.join(want)}."
            )
    elif not found or any(ds_matches(zone, d, keys) for d in found):
        return []
    else:
        fix = (
            f"{at_parent(parent_zone)}, remove the DS record(s) of {zone}: validating "
            f"resolvers cannot resolve the zone while it is not signed with a matching key."
        )
    return [
        Problem(
            check="ds",
            server=server,
            zone=zone,
            record=f"{zone} DS",
            found=sorted(ds_text(zone, d) for d in found),
            expected=want,
            fix=fix,
        )
    ]


def ds_problems(  # noqa: PLR0913 (one argument per part of the comparison)
    zone: str,
    parent_zone: str,
    server: str,
    answer: DsSet | NoAnswer,
    keys: list[Any],
    *,
    dnssec: bool,
) -> list[Problem]:
    """Problems in one parent server's answer to `ZONE DS`."""
    if "error" not in answer and answer["rcode"] == "NOERROR":
        return compare_ds(zone, parent_zone, server, answer["ds"], keys, dnssec=dnssec)
    zone = normalize(zone)
    return [
        Problem(
            check="ds",
            server=server,
            zone=zone,
            record=f"{zone} DS",
            found=answer["error"] if "error" in answer else answer["rcode"],
            expected="an answer with the DS records of the zone, or none",
            fix=f"The parent server {server} did not answer for the DS of {zone}; "
            f"check parent_servers, or that {normalize(parent_zone)} is served there, "
            f"then run the check again.",
        )
    ]


def signature_error(rrset: Any, rrsig: Any, keys: Any) -> str | None:
    """Why the RRSIG RRset RRSIG does not validate RRSET with the DNSKEY RRset KEYS; None when
    it does. Needs the cryptography package."""
    if rrsig is None:
        return "no RRSIG"
    reasons = []
    for signature in rrsig:  # what dns.dnssec.validate does, keeping each reason
        try:
            dns.dnssec.validate_rrsig(rrset, signature, {rrset.name: keys})
        except dns.exception.DNSException as e:
            reasons.append(f"key tag {signature.key_tag}: {e or type(e).__name__}")
        else:
            return None
    return f"RRSIG does not validate ({'; '.join(reasons)})"


def dnskey_found(dnskey: Signed | NoAnswer) -> str | None:
    """What is wrong with one name server's answer to `ZONE DNSKEY` (with DO); None when it
    has a key-signing key and an RRSIG over the DNSKEY RRset that validates with it."""
    if "error" in dnskey:
        return dnskey["error"]
    if dnskey["rcode"] != "NOERROR":
        return dnskey["rcode"]
    keys = dnskey["rrset"]
    if keys is None:
        return "no DNSKEY records"
    if not sep_keys(list(keys)):
        flags = ", ".join(sorted({str(k.flags) for k in keys}))
        return f"no key-signing key (flags 257) among the DNSKEY records (flags {flags})"
    return signature_error(keys, dnskey["rrsig"], keys)


def soa_signature_found(soa: Signed | NoAnswer, keys: Any) -> str | None:
    """What is wrong with one name server's answer to `ZONE SOA` (with DO), validated with
    the DNSKEY RRset KEYS; None when its RRSIG validates."""
    if "error" in soa:
        return soa["error"]
    if soa["rcode"] != "NOERROR":
        return soa["rcode"]
    if soa["rrset"] is None:
        return "no SOA record"
    return signature_error(soa["rrset"], soa["rrsig"], keys)


def dnssec_fix(zone: str, server: str, rdtype: str, answer: Signed | NoAnswer, found: str) -> str:
    if "error" in answer:
        return f"{server} did not answer the {rdtype} query for {zone}; run the check again."
    if found.startswith("RRSIG"):
        return (
            f"Make {server} serve valid signatures for {zone}: check that its signer runs "
            f"(knotc zone-sign {zone}) or that it transfers the signed zone from the primary, "
            f"then run the check again."
        )
    return (
        f"Turn on signing for {zone} on {server} (knot_dnssec / dyndns_dnssec) or let it "
        f"transfer the signed zone from the primary."
    )


def dnssec_problems(
    zone: str, server: str, dnskey: Signed | NoAnswer, soa: Signed | NoAnswer
) -> list[Problem]:
    """Problems in one name server's answers to `ZONE DNSKEY` and `ZONE SOA`, both asked with
    the DO bit, for a zone meant to be signed. The SOA is checked only when the DNSKEY RRset
    is fine."""
    zone = normalize(zone)
    found = dnskey_found(dnskey)
    if found is not None:
        rdtype, answer = "DNSKEY", dnskey
        expected = "a DNSKEY RRset with a key-signing key (flags 257), signed"
    else:
        found = soa_signature_found(soa, dnskey["rrset"])
        if found is None:
            return []
        rdtype, answer = "SOA", soa
        expected = "an SOA signed with a key of the DNSKEY RRset"
    return [
        Problem(
            check="dnssec",
            server=server,
            zone=zone,
            record=f"{zone} {rdtype}",
            found=found,
            expected=expected,
            fix=dnssec_fix(zone, server, rdtype, answer, found),
        )
    ]


# --- wait_for: the round trip of an update ---------------------------------------------------


def wanted_value(rdtype: str, value: str) -> str:
    """VALUE spelled as record_values spells it: addresses in their short form."""
    if rdtype in ("A", "AAAA"):
        return str(ipaddress.ip_address(value))
    return value


def round_trip_problems(
    zone: str, wait_for: WaitFor, arrival: dict[str, float | None], last: dict[str, Any]
) -> list[Problem]:
    """Problems for each server that did not show the wait_for value in time (ARRIVAL None);
    LAST has what each server answered last."""
    zone = normalize(zone)
    record = f"{normalize(wait_for['name'])} {wait_for['type']}"
    wait = f"{wait_for['timeout']:g}"
    nobody = all(seen is None for seen in arrival.values())
    problems = []
    for server, seen in sorted(arrival.items()):
        if seen is not None:
            continue
        if nobody:
            fix = (
                f"No name server showed {record} {wait_for['value']} within {wait} s: check "
                f"that the update reached the primary (the update's answer, knotd's log), then "
                f"run the check again."
            )
        else:
            fix = (
                f"{server} did not show the update within {wait} s: make the primary send "
                f"NOTIFY to it and allow it zone transfers (TSIG key), then run the check again."
            )
        problems.append(
            Problem(
                check="round_trip",
                server=server,
                zone=zone,
                record=record,
                found=last.get(server, []),
                expected=wait_for["value"],
                fix=fix,
            )
        )
    return problems


def wait_for_record(
    servers: list[tuple[str, str]], wait_for: WaitFor, *, port: int, timeout: float
) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Ask SERVERS every POLL_INTERVAL seconds for the wait_for record until each shows its
    value or wait_for["timeout"] seconds have passed.

    Returns the seconds until each label showed it (None: never) and what the others answered
    last (the values, or an error text)."""
    querier = Querier(ask, port=port, timeout=timeout)
    name, rdtype = normalize(wait_for["name"]), wait_for["type"]
    wanted = wanted_value(rdtype, wait_for["value"])
    arrival: dict[str, float | None] = {label: None for label, _address in servers}
    last: dict[str, Any] = {}
    pending = list(servers)
    start = time.monotonic()
    deadline = start + wait_for["timeout"]
    while pending:
        for label, address in list(pending):
            query_timeout = max(0.05, min(timeout, deadline - time.monotonic()))
            values = querier.ask(
                name, rdtype, address, partial(record_values, name, rdtype), timeout=query_timeout
            )
            if isinstance(values, list) and wanted in values:
                arrival[label] = round(time.monotonic() - start, 2)
                last.pop(label, None)
                pending.remove((label, address))
            else:
                last[label] = values if isinstance(values, list) else values["error"]
        remaining = deadline - time.monotonic()
        if not pending or remaining <= 0:
            break
        time.sleep(min(POLL_INTERVAL, remaining))
    return arrival, last


# --- all of them -----------------------------------------------------------------------------


def resolve_parent(
    querier: Querier, zone: str, parent_servers: list[str] | None
) -> tuple[str, list[str], list[Problem]]:
    """The parent zone and its servers: as given, or found; problems when not found."""
    parent_zone = assumed_parent(zone)
    if parent_servers:
        return parent_zone, list(parent_servers), []
    parent = querier.find_parent(zone)
    if "error" in parent:
        found = parent["error"]
        expected = "the parent zone and its servers' addresses"
        fix = (
            "Give parent_servers, or make the system resolver able to find the parent zone "
            f"of {zone}."
        )
    elif not parent["servers"]:
        parent_zone, found = parent["zone"], "no addresses"
        expected = "the parent zone's server addresses"
        fix = f"Give parent_servers; the servers of {parent_zone} have no address."
    else:
        return parent["zone"], parent["servers"], []
    problem = Problem(
        check="parent_discovery",
        server="system resolver",
        zone=zone,
        record=f"{parent_zone} NS",
        found=found,
        expected=expected,
        fix=fix,
    )
    return parent_zone, [], [problem]


def nameserver_addresses(
    querier: Querier, zone: str, ns: NameServer
) -> tuple[list[tuple[str, str]], list[Problem]]:
    """The (label, address) of each address of the name server NS: as given, or (a name
    outside ZONE given without any) those the system resolver finds; a problem when it finds
    none."""
    given = [a for a in (ns.get("ipv4"), ns.get("ipv6")) if a]
    found = given or querier.find_addresses(ns["name"])
    if isinstance(found, list) and found:
        return [(server_label(ns["name"], address), address) for address in found], []
    name = normalize(ns["name"])
    problem = Problem(
        check="nameserver_address",
        server=name,
        zone=normalize(zone),
        record=f"{name} A/AAAA",
        found=found["error"] if isinstance(found, dict) else "no A or AAAA record",
        expected="an address",
        fix=f"The name server {name} has no address the system resolver finds, so nobody can "
        f"ask it: give its ipv4/ipv6 in the nameservers, or correct its name there and in the "
        f"NS records at the parent zone.",
    )
    return [], [problem]


def check_dnssec(  # noqa: PLR0913 (what to ask, whom, and how)
    querier: Querier,
    zone: str,
    parent_zone: str,
    parent_servers: list[str],
    servers: list[tuple[str, str]],
    *,
    dnssec: bool,
) -> tuple[list[str], list[Problem]]:
    """The DS records the parent should have (as text) and the dnssec and ds problems.

    Every name server address in SERVERS is asked for the DNSKEY RRset, with DNSSEC also for
    the signed SOA; the keys of the first one that has a DNSKEY RRset are compared with the DS
    records at each of PARENT_SERVERS."""
    problems = []
    keys: list[Any] = []
    for label, address in servers:
        dnskey = querier.ask(
            zone, "DNSKEY", address, partial(summarize_signed, zone, "DNSKEY"), dnssec=True
        )
        if not keys and "error" not in dnskey and dnskey["rrset"] is not None:
            keys = list(dnskey["rrset"])
        if dnssec:
            soa = querier.ask(
                zone, "SOA", address, partial(summarize_signed, zone, "SOA"), dnssec=True
            )
            problems.extend(dnssec_problems(zone, label, dnskey, soa))
    for server in parent_servers:
        answer = querier.ask(zone, "DS", server, partial(summarize_ds, zone))
        problems.extend(ds_problems(zone, parent_zone, server, answer, keys, dnssec=dnssec))
    return sorted(ds_text(zone, d) for d in expected_ds(zone, keys)), problems


def run_checks(  # noqa: PLR0913 (the module's options)
    zone: str,
    nameservers: list[NameServer],
    *,
    parent_servers: list[str] | None = None,
    port: int = 53,
    timeout: float = 3.0,
    nxdomain_probe: bool = True,
    dnssec: bool = False,
    wait_for: WaitFor | None = None,
    primary: NameServer | None = None,
) -> dict[str, Any]:
    """All checks on arguments check_arguments accepts; the module's result without changed.

    The hidden PRIMARY is asked only for its SOA: its serial is the one the name servers must
    have."""
    zone = normalize(zone)
    querier = Querier(ask, port=port, timeout=timeout)

    parent_zone, parent_servers, problems = resolve_parent(querier, zone, parent_servers)
    reachable_parents = []
    for server in parent_servers:
        delegation = querier.ask(zone, "NS", server, partial(summarize_delegation, zone))
        if "error" not in delegation:
            reachable_parents.append(server)
        problems.extend(delegation_problems(zone, parent_zone, server, delegation, nameservers))

    public: list[tuple[str, str]] = []  # (label, address) of each name server address
    external: set[str] = set()
    for ns in nameservers:
        servers, found = nameserver_addresses(querier, zone, ns)
        problems.extend(found)
        public.extend(servers)
        external.update(label for label, _address in servers if ns.get("external"))
    hidden: list[tuple[str, str]] = []  # the same for the hidden primary
    if primary:
        hidden = [
            (server_label(primary["name"], address) + HIDDEN, address)
            for address in (primary.get("ipv4"), primary.get("ipv6"))
            if address
        ]
    serials: dict[str, int] = {}
    answering: list[tuple[str, str]] = []  # the name server addresses that answered
    for label, address in public + hidden:
        is_hidden = (label, address) in hidden
        soa = querier.ask(zone, "SOA", address, partial(summarize_soa, zone))
        if "error" not in soa and not is_hidden:
            answering.append((label, address))
        found = soa_problems(zone, label, soa, hidden=is_hidden)
        problems.extend(found)
        if not found:
            serials[label] = soa["serial"]
    addresses = dict(public + hidden)

    def ask_serial(label: str) -> int | None:
        soa = querier.ask(zone, "SOA", addresses[label], partial(summarize_soa, zone))
        return None if soa_problems(zone, label, soa) else soa["serial"]

    arrival: dict[str, float | None] = {}
    trip: list[Problem] = []
    if wait_for:
        # A record just set reaches the secondaries a second or more later (Knot sends its
        # NOTIFY a second after the update): compare the serials once it is everywhere.
        arrival, last = wait_for_record(answering, wait_for, port=port, timeout=timeout)
        trip = round_trip_problems(zone, wait_for, arrival, last)
        for label in serials:
            serial = ask_serial(label)
            if serial is not None:
                serials[label] = serial

    settle_serials(serials, ask_serial)
    problems.extend(compare_serials(zone, serials, {label for label, _address in hidden}, external))

    if nxdomain_probe:
        qname = f"_check-{secrets.token_hex(6)}.{zone}"
        for label, address in answering:
            answer = querier.ask(qname, "A", address, summarize_rcode)
            problems.extend(nxdomain_problems(zone, label, qname, answer))

    ds, found = check_dnssec(
        querier, zone, parent_zone, reachable_parents, answering, dnssec=dnssec
    )
    problems.extend(found)

    problems.extend(trip)

    return {
        "ok": not problems,
        "problems": problems,
        "parent_zone": parent_zone,
        "parent_servers": list(parent_servers),
        "serials": serials,
        "ds": ds,
        "arrival": arrival,
    }
