"""What the status CLI asks on the server: each name server's answers, the certificate's
end date (openssl), the backup's service and timer (systemctl). Facts only: health.py
decides what they mean.

Uses only dnspython APIs present in dnspython 2.3 (Debian 12).
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from .config import Nameserver
from .dnsio import DnsRejected, DnsUnreachable
from .health import ADDRESS_TYPES, AddressFacts

DNS_TIMEOUT = 2.0  # seconds per query
DNS_TRIES = 2  # a query that timed out is sent once more (a UDP packet may get lost)
COMMAND_TIMEOUT = 30.0  # seconds for openssl and systemctl

# Asks the name server at ADDRESS, PORT for NAME's RDTYPE: the values, as text; raises
# DnsUnreachable (no answer) or DnsRejected (an error, or not authoritative).
Ask = Callable[[str, int, str, str], list[str]]
# Runs a command (argv, its standard input) and returns its standard output; raises
# OSError, or subprocess.CalledProcessError (stderr as bytes) when it exits with another
# status than 0.
Run = Callable[[Sequence[str], bytes | None], str]


def ask_dns(address: str, port: int, name: str, rdtype: str) -> list[str]:
    """What the server at ADDRESS:PORT serves for NAME/RDTYPE, authoritatively (no
    recursion asked, AA required): UDP, TCP when truncated, as dnsio reads. Addresses
    sorted; empty for NXDOMAIN or no such RRset."""
    kind = dns.rdatatype.from_text(rdtype)
    qname = dns.name.from_text(name)
    query = dns.message.make_query(qname, kind)
    query.flags &= ~dns.flags.RD
    for attempt in range(DNS_TRIES):
        try:
            response, _tcp = dns.query.udp_with_fallback(
                query, address, timeout=DNS_TIMEOUT, port=port
            )
            break
        except dns.exception.Timeout as err:
            if attempt + 1 == DNS_TRIES:
                raise DnsUnreachable("timed out") from err
        except (OSError, EOFError) as err:
            raise DnsUnreachable(getattr(err, "strerror", None) or str(err)) from err
        except dns.exception.DNSException as err:
            raise DnsRejected(f"{type(err).__name__}: {err}") from err
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise DnsRejected(f"query answered {dns.rcode.to_text(rcode)}")
    if not response.flags & dns.flags.AA:
        raise DnsRejected("answer not authoritative")
    rrset = response.get_rrset(response.answer, qname, dns.rdataclass.IN, kind)
    values = [rdata.to_text() for rdata in rrset] if rrset is not None else []
    if kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return sorted(values, key=ipaddress.ip_address)
    return sorted(values)


def ask_address(
    nameserver: Nameserver,
    address: str,
    zone: str,
    hosts: Mapping[str, Sequence[str]],
    ask: Ask,
) -> AddressFacts:
    """The zone's serial at one address, then each host's A and AAAA (`hosts`: fqdn ->
    the types to ask); stops at the first failure."""
    facts = AddressFacts(name=nameserver.name, address=address)
    try:
        soa = ask(address, nameserver.port, zone, "SOA")
        if not soa:
            raise DnsRejected(f"no SOA record for {zone}")
        facts.serial = int(soa[0].split()[2])
        for host, types in hosts.items():
            facts.served[host] = {t: ask(address, nameserver.port, host, t) for t in types}
    except DnsUnreachable as err:
        facts.error, facts.unreachable = str(err), True
    except DnsRejected as err:
        facts.error = str(err)
    return facts


def ask_nameservers(
    nameservers: Sequence[Nameserver],
    zone: str,
    hosts: Mapping[str, Sequence[str]],
    ask: Ask,
) -> list[AddressFacts]:
    """Every address of every name server, in their order, asked at the same time."""
    targets = [(n, a) for n in nameservers for a in n.addresses]
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        return list(pool.map(lambda t: ask_address(t[0], t[1], zone, hosts, ask), targets))


def host_types(types: frozenset[str]) -> list[str]:
    """The address types of a host that the name servers are asked for."""
    return [t for t in ADDRESS_TYPES if t in types]


def run_command(argv: Sequence[str], stdin: bytes | None = None) -> str:
    """ARGV's standard output; CalledProcessError (with its stderr) when it fails."""
    done = subprocess.run(
        list(argv), input=stdin, capture_output=True, timeout=COMMAND_TIMEOUT, check=True
    )
    return done.stdout.decode("utf-8", "replace")


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_enddate(text: str) -> float:
    """`notAfter=Jun 15 15:06:40 2025 GMT` (openssl x509 -enddate) as seconds; ValueError."""
    key, _sep, value = text.strip().partition("=")
    parts = value.split()
    if key != "notAfter" or len(parts) != 5 or parts[0] not in MONTHS or parts[4] != "GMT":
        raise ValueError(f"unexpected openssl output {text.strip()!r}")
    hour, minute, second = (int(x) for x in parts[2].split(":"))
    moment = datetime(
        int(parts[3]), MONTHS.index(parts[0]) + 1, int(parts[1]), hour, minute, second, tzinfo=UTC
    )
    return moment.timestamp()


def certificate_not_after(path: str, run: Run = run_command) -> tuple[float | None, str | None]:
    """The end of the first certificate in PATH (a PEM file, the leaf of a full chain):
    its seconds, or None and why it cannot be read."""
    try:
        with open(path, "rb") as f:
            pem = f.read()
    except OSError as err:
        return None, err.strerror or type(err).__name__
    try:
        out = run(["openssl", "x509", "-enddate", "-noout"], pem)
        return parse_enddate(out), None
    except FileNotFoundError:
        return None, "openssl is not installed"
    except subprocess.CalledProcessError as err:
        detail = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        return None, "not a PEM certificate" + (f" (openssl: {detail[0]})" if detail else "")
    except (OSError, subprocess.TimeoutExpired, ValueError) as err:
        return None, str(err)


SYSTEMD_PROPERTIES = (
    "Id",
    "LoadState",
    "ActiveState",
    "Result",
    "ExecMainExitTimestamp",
    "ActiveEnterTimestamp",
)


def parse_show(text: str) -> dict[str, dict[str, str]]:
    """`systemctl show` of several units: unit (its Id) -> property -> value."""
    units: dict[str, dict[str, str]] = {}
    for block in text.strip().split("\n\n"):
        props = dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            units[props["Id"]] = props
    return units


def systemd_units(
    units: Sequence[str], run: Run = run_command
) -> tuple[dict[str, dict[str, str]] | None, str | None]:
    """What systemd knows of UNITS (a unit it has not got: LoadState `not-found`), or None
    and why it cannot be asked."""
    argv = ["systemctl", "show", "--timestamp=unix"]
    for prop in SYSTEMD_PROPERTIES:
        argv += ["-p", prop]
    try:
        return parse_show(run([*argv, "--", *units], None)), None
    except FileNotFoundError:
        return None, "systemctl is not installed"
    except subprocess.CalledProcessError as err:
        detail = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        return None, detail[0] if detail else f"systemctl exited {err.returncode}"
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, str(err)
