"""The rules of the operator's report (python3 -m dyndns_update.status): from the facts
gathered on the server (status records, name servers' answers, the certificate's end date,
systemd's view of the backup) to each part of the report and the problems, and the table.

The one place that decides what is a problem: the status playbook and the mail only show
these verdicts. Pure: no I/O, the time is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

HOUR = 3600.0
DAY = 86400.0
ADDRESS_TYPES = ("A", "AAAA")  # what the name servers are asked of each host, of its types

Record = dict[str, Any]


def iso_time(seconds: float) -> str:
    """UTC, ISO 8601 to the second: `2025-06-01T12:00:00Z`."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_time(text: Any) -> float | None:
    """The seconds of a time written by iso_time; None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def short_time(text: str | None) -> str:
    """`2025-06-15T15:06:40Z` as the table shows it: `2025-06-15 15:06`."""
    return text[:16].replace("T", " ") if text else "-"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@dataclass(frozen=True)
class Problem:
    """Something the operator should act on. `kind`, `host` and `server` say what it is
    about (the mail compares them, not the message, whose numbers change by the hour)."""

    kind: str
    message: str
    host: str | None = None
    server: str | None = None

    def to_json(self) -> Record:
        return {
            "kind": self.kind,
            "host": self.host,
            "server": self.server,
            "message": self.message,
        }


# --- hosts -----------------------------------------------------------------------------


def stale_problem(entry: Mapping[str, Any], now: float, stale_hours: int) -> Problem | None:
    """A host (an entry of the report's `hosts`) whose last good or nochg is older than
    `stale_hours`, or that never made one; None when it is fresh."""
    host = entry["fqdn"]
    call = entry.get("last_call")
    if not call:
        return Problem(
            "stale",
            f"{host} has never updated: no good or nochg call is on record; "
            "check its router or cron job.",
            host=host,
        )
    when = parse_iso_time(call.get("time"))
    if when is None:
        return Problem("record", f"The status record of {host} has no valid time.", host=host)
    age = now - when
    if age <= stale_hours * HOUR:
        return None
    return Problem(
        "stale",
        f"{host} has not updated for {plural(int(age // HOUR), 'hour')} (last call "
        f"{call.get('time')}, {call.get('result')} from {call.get('client')}), more than "
        f"{stale_hours}: check its router or cron job.",
        host=host,
    )


def host_problems(entry: Mapping[str, Any], now: float, stale_hours: int) -> list[Problem]:
    """The problems of one host's record; none are judged without a status directory."""
    host = entry["fqdn"]
    if entry.get("error"):
        return [
            Problem("record", f"The status record of {host} is unusable: {entry['error']}.", host)
        ]
    problem = stale_problem(entry, now, stale_hours)
    return [problem] if problem else []


# --- name servers ----------------------------------------------------------------------


@dataclass
class AddressFacts:
    """What one address of a name server answered: the zone's SOA serial, and per host
    (asked only when the SOA came) its A and AAAA, each sorted; `error` when a query
    failed (`unreachable`: no answer at all), after which nothing more was asked."""

    name: str
    address: str
    serial: int | None = None
    error: str | None = None
    unreachable: bool = False
    served: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})"


def serial_problems(facts: Sequence[AddressFacts], zone: str) -> list[Problem]:
    """Each address whose serial differs from the first one that answered (the primary,
    listed first, when it answered)."""
    answered = [f for f in facts if f.serial is not None and f.error is None]
    if not answered:
        return []
    reference = answered[0]
    return [
        Problem(
            "serial",
            f"Name server {f.label} serves serial {f.serial} of {zone}, {reference.label} "
            f"serves {reference.serial}: its copy of the zone does not follow the updates "
            "(check NOTIFY and zone transfers from the primary).",
            server=f.address,
        )
        for f in answered[1:]
        if f.serial != reference.serial
    ]


def served_text(served: Mapping[str, Sequence[str]] | None) -> str:
    """A host's records as one server serves them: `A 203.0.113.7 AAAA 2001:db8::7`."""
    if served is None:
        return "?"
    parts = [f"{rdtype} {' '.join(values)}" for rdtype, values in served.items() if values]
    return " ".join(parts) or "none"


def _by_server(texts: Mapping[str, str], names: Mapping[str, str]) -> dict[str, list[str]]:
    """Addresses grouped by what they serve (`texts`: address -> text); each name server
    once with its addresses where they all serve the same, else each address apart."""
    groups: dict[str, list[str]] = {}
    for name in dict.fromkeys(names[a] for a in texts):
        addresses = [a for a in texts if names[a] == name]
        if len({texts[a] for a in addresses}) == 1:
            groups.setdefault(texts[addresses[0]], []).append(f"{name} ({', '.join(addresses)})")
        else:
            for a in addresses:
                groups.setdefault(texts[a], []).append(f"{name} ({a})")
    return groups


def records_problem(host: str, facts: Sequence[AddressFacts]) -> Problem | None:
    """The host's A and AAAA are not the same on every address that answered."""
    texts = {
        f.address: served_text(f.served[host])
        for f in facts
        if f.error is None and host in f.served
    }
    if len(set(texts.values())) < 2:
        return None
    groups = _by_server(texts, {f.address: f.name for f in facts})
    described = "; ".join(
        f"{' and '.join(labels)} {'serves' if len(labels) == 1 else 'serve'} {text}"
        for text, labels in groups.items()
    )
    return Problem("records", f"{host} differs between the name servers: {described}.", host=host)


def nameserver_problems(facts: Sequence[AddressFacts], zone: str) -> list[Problem]:
    """Addresses that failed, then serials that differ."""
    problems = [
        Problem(
            "nameserver",
            f"Name server {f.label} does not answer: {f.error}."
            if f.unreachable
            else f"Name server {f.label} does not answer for {zone} as it should: {f.error}.",
            server=f.address,
        )
        for f in facts
        if f.error is not None
    ]
    return problems + serial_problems(facts, zone)


def consistent(facts: Sequence[AddressFacts], hosts: Sequence[str]) -> bool:
    """Serials and every host's records agree between the addresses that answered (the CLI
    asks again for a few seconds when not: an update reaches the secondaries a moment later)."""
    return not serial_problems(facts, "") and not any(records_problem(h, facts) for h in hosts)


# --- certificate -----------------------------------------------------------------------


def certificate_view(
    path: str, not_after: float | None, error: str | None, now: float, minimum_days: int
) -> tuple[Record, list[Problem]]:
    """The report's `certificate`, and its problem: unreadable, or fewer than `minimum_days`
    left (certbot renews 30 days before the end, so fewer means renewal is failing)."""
    view: Record = {"file": path, "not_after": None, "days_left": None, "error": error}
    if not_after is None:
        reason = error or "no end date"
        message = f"The update endpoint's certificate {path} cannot be read: {reason}."
        return view, [Problem("certificate", message)]
    days_left = int((not_after - now) // DAY)
    view.update(not_after=iso_time(not_after), days_left=days_left)
    if days_left >= minimum_days:
        return view, []
    if not_after <= now:
        state = f"expired at {iso_time(not_after)}"
    else:
        state = f"expires at {iso_time(not_after)}, in {plural(days_left, 'day')}"
    message = (
        f"The update endpoint's certificate {path} {state} (fewer than {minimum_days} days "
        "left): its renewal is failing; see `certbot renew --dry-run` and "
        "/var/log/letsencrypt/letsencrypt.log."
    )
    return view, [Problem("certificate", message)]


# --- backup ----------------------------------------------------------------------------


def timer_of(unit: str) -> str:
    """The timer that starts a service: the same name (systemd's default)."""
    return unit.removesuffix(".service") + ".timer"


def _unit_state(props: Mapping[str, str]) -> str:
    """ActiveState, or LoadState when the unit is not loaded (`not-found`)."""
    load = props.get("LoadState", "")
    return props.get("ActiveState", "") if load == "loaded" else load or "not-found"


def unix_time(value: str | None) -> float | None:
    """A systemctl --timestamp=unix value (`@1750000000`); None when empty or `n/a`."""
    if not value or not value.startswith("@"):
        return None
    try:
        return float(value[1:])
    except ValueError:
        return None


def backup_view(
    unit: str,
    units: Mapping[str, Mapping[str, str]] | None,
    error: str | None,
    now: float,
    maximum_hours: int,
) -> tuple[Record, list[Problem]]:
    """The report's `backup`, and its problem, from `systemctl show` of the backup's service
    and timer (`units`: unit name -> properties; None and `error` when systemd could not be
    asked). Never run is a problem only once the timer has been active `maximum_hours`: after
    a boot, systemd knows no earlier run until the timer's next one."""
    timer = timer_of(unit)
    view: Record = {
        "unit": unit,
        "timer": timer,
        "timer_state": None,
        "timer_since": None,
        "state": None,
        "result": None,
        "last_run": None,
        "error": error,
    }
    if units is None:
        message = f"The last backup is unknown: systemd cannot be asked ({error})."
        return view, [Problem("backup", message)]
    service, timer_props = units.get(unit, {}), units.get(timer, {})
    last_run, since = (
        unix_time(service.get("ExecMainExitTimestamp")),
        unix_time(timer_props.get("ActiveEnterTimestamp")),
    )
    view.update(
        timer_state=_unit_state(timer_props),
        timer_since=iso_time(since) if since is not None else None,
        state=_unit_state(service),
        result=service.get("Result") or None,
        last_run=iso_time(last_run) if last_run is not None else None,
    )
    if "not-found" in (view["state"], view["timer_state"]):
        missing = timer if view["timer_state"] == "not-found" else unit
        message = f"No backup timer: systemd has no unit {missing} (the backup role installs it)."
        return view, [Problem("backup", message)]
    problems = []
    if view["timer_state"] != "active":
        problems.append(
            Problem(
                "backup",
                f"The backup timer {timer} is {view['timer_state']}, so no backup runs: "
                f"`systemctl enable --now {timer}`.",
            )
        )
    if view["state"] == "failed" or view["result"] not in (None, "success"):
        when = f" at {view['last_run']}" if view["last_run"] else ""
        problems.append(
            Problem(
                "backup",
                f"The last backup failed ({view['result']}){when}: see `journalctl -u {unit}`.",
            )
        )
    elif last_run is not None and now - last_run > maximum_hours * HOUR:
        hours = int((now - last_run) // HOUR)
        problems.append(
            Problem(
                "backup",
                f"The last backup ran at {view['last_run']}, {plural(hours, 'hour')} ago, more "
                f"than {maximum_hours}: see `systemctl list-timers {timer}`.",
            )
        )
    elif last_run is None and since is not None and now - since > maximum_hours * HOUR:
        problems.append(
            Problem(
                "backup",
                f"No backup has run since its timer started at {view['timer_since']}, more "
                f"than {maximum_hours} hours ago: see `systemctl list-timers {timer}`.",
            )
        )
    return view, problems


# --- the table -------------------------------------------------------------------------


def _call_text(call: Mapping[str, Any] | None) -> str:
    if not call:
        return "never"
    return f"{short_time(call.get('time'))} {call.get('result')} from {call.get('client')}"


def _change_text(change: Mapping[str, Any] | None) -> str:
    if not change:
        return "never"
    parts = [short_time(change.get("time"))]
    parts += [f"{t} {change[t]}" for t in ADDRESS_TYPES if change.get(t)]
    if change.get("cleared"):
        parts.append("cleared " + ",".join(change["cleared"]))
    if change.get("txt"):
        parts.append(f"TXT {change['txt']}")
    return " ".join(parts)


def _short(name: str, zone: str) -> str:
    return name.removesuffix("." + zone)


def _served_column(served: Mapping[str, Any], names: Mapping[str, str], zone: str) -> str:
    """What every name server serves for a host: once when they agree."""
    if not served:
        return "-"
    texts = {address: served_text(value) for address, value in served.items()}
    answered = {a: t for a, t in texts.items() if t != "?"}
    if len(set(answered.values())) == 1:
        count = f"{len(answered)} of {len(texts)}" if len(answered) < len(texts) else "all"
        return f"{next(iter(answered.values()))} ({count})"
    short = {a: _short(n, zone) for a, n in names.items()}
    groups = _by_server(answered, short)  # those that did not answer: in the name servers
    return "; ".join(f"{text}: {', '.join(labels)}" for text, labels in groups.items())


def _stale_column(host: Mapping[str, Any]) -> str:
    return {True: "yes", False: "no"}.get(host.get("stale"), "?")


def _columns(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        (
            indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _certificate_line(view: Mapping[str, Any] | None, limits: Mapping[str, Any]) -> str:
    if view is None:
        return "Certificate: not checked (the config names none)"
    if view["not_after"] is None:
        return f"Certificate: {view['file']}: unreadable: {view['error']}"
    return (
        f"Certificate: {view['file']}: not after {short_time(view['not_after'])}, "
        f"{plural(view['days_left'], 'day')} left, at least {limits['certificate_days']} wanted"
    )


def _backup_line(view: Mapping[str, Any] | None, limits: Mapping[str, Any], now: str) -> str:
    if view is None:
        return "Backup: not checked (the config names no backup unit)"
    if view["error"]:
        return f"Backup: {view['unit']}: unknown: {view['error']}"
    last_run, generated = parse_iso_time(view["last_run"]), parse_iso_time(now)
    if last_run is not None and generated is not None:
        ago = plural(int((generated - last_run) // HOUR), "hour")
        last = f"last run {short_time(view['last_run'])} ({view['result']}, {ago} ago)"
    elif view["timer_since"]:
        last = f"no run since the timer started {short_time(view['timer_since'])}"
    else:
        last = "never run"
    return (
        f"Backup: {view['unit']}: {last}, at most {limits['backup_hours']} hours wanted; "
        f"timer {view['timer_state']}"
    )


def table(report: Mapping[str, Any]) -> str:
    """The report as the operator reads it: one row per host, the name servers, the
    certificate, the backup, then the problems."""
    limits = report["limits"]
    lines = [
        f"dyndns on {report['hostname']}, {short_time(report['generated'])} "
        f"(times UTC; a host is stale after {limits['stale_hours']} hours)",
        "",
    ]
    names = {n["address"]: n["name"] for n in report["nameservers"]}
    rows = [["HOST", "LAST CALL", "LAST CHANGE", "NAME SERVERS SERVE", "STALE"]]
    rows += [
        [
            host["fqdn"],
            "unreadable" if host["error"] else _call_text(host["last_call"]),
            "unreadable" if host["error"] else _change_text(host["last_change"]),
            _served_column(host["served"], names, report["zone"]),
            _stale_column(host),
        ]
        for host in report["hosts"]
    ]
    lines += _columns(rows)
    lines += ["", f"Name servers of {report['zone']}:"]
    if report["nameservers"]:
        lines += _columns(
            [
                [
                    n["name"],
                    n["address"],
                    f"serial {n['serial']}" if n["error"] is None else f"error: {n['error']}",
                ]
                for n in report["nameservers"]
            ],
            indent="  ",
        )
    else:
        lines.append("  not checked (the config names none)")
    lines += [
        _certificate_line(report["certificate"], limits),
        _backup_line(report["backup"], limits, report["generated"]),
        "",
    ]
    if report["problems"]:
        lines += ["Problems:"] + [f"- {p['message']}" for p in report["problems"]]
    else:
        lines.append("No problems.")
    return "\n".join(lines) + "\n"
