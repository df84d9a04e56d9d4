#!/usr/bin/env python3
"""The bench of selfhosted.dyndns (`make bench`), run as root inside the bench server.

Drives, over loopback, the update app (Apache, mod_wsgi daemon), the seed design's script
(same Apache, embedded mod_wsgi, one `knsupdate` per call) and Knot itself (signed UPDATEs
from threads of this process), case after case, interleaved, in rounds; checks every answer
and the final zone; writes one table (Markdown) to the report file and prints it.

Exit status: 0 when every answer and the final zone were right (whether or not the targets
were met: a benchmark, not a test), 1 otherwise, 2 on bad usage.

Every host's address is reset (one signed UPDATE) before each case: the nochg cases send
each host's reset address; the good path sends 10.0.0.0 + n for request n, for host
n % hosts, so that every call changes the address; the Knot generator does the same with
198.18.0.0 + n. The final zone must hold, for each host, exactly one A record that one of
these could have set, and nothing else may have changed.

Standard library and dnspython (Debian's python3-dnspython) only; the config file holds
the hosts' secrets, which never reach the output.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import datetime
import ipaddress
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.update

GOOD_NET = ipaddress.IPv4Address("10.0.0.0")  # the app's good path: 10.0.0.0 + n
KNOT_NET = ipaddress.IPv4Address("198.18.0.0")  # Knot's own rate: 198.18.0.0 + n (/15)
KNOT_NET_SIZE = 2**17
RESET_NET = ipaddress.IPv4Address("203.0.113.0")  # host i's address between cases: .(i+1)
SEED_ADDRESS = "127.0.0.1"  # the seed script sets the caller's address: wrk's, loopback
WSGI_DISPLAY_NAME = "(wsgi:dyndns-update)"
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Case:
    """One line of the table."""

    label: str
    mode: str  # basic, token, seed, good (wrk) or knot (this process)
    concurrency: int
    close: bool = False  # a new connection (TLS handshake) per call

    @property
    def key(self) -> str:
        return f"{self.mode}/{self.concurrency}/{'close' if self.close else 'keepalive'}"

    @property
    def expect(self) -> str:
        return {"basic": "nochg", "token": "nochg", "seed": "SUCCESS", "good": "good"}.get(
            self.mode, "NOERROR"
        )


CASES = [
    Case("nochg, Basic auth", "basic", 8),
    Case("nochg, Basic auth, new TLS connection per call", "basic", 8, close=True),
    Case("nochg, secret URL", "token", 8),
    Case("seed design's script (knsupdate per call)", "seed", 8),
    Case("Knot alone: signed UPDATE over TCP", "knot", 8),
    Case("good path, Basic auth (address changes)", "good", 8),
    Case("Knot alone: signed UPDATE over TCP", "knot", 32),
    Case("good path, Basic auth (address changes)", "good", 32),
]
# The latency floor: one request at a time (make bench BENCH_FLOOR=1).
FLOOR_CASES = [
    Case("nochg, Basic auth", "basic", 1),
    Case("nochg, secret URL", "token", 1),
    Case("seed design's script (knsupdate per call)", "seed", 1),
    Case("Knot alone: signed UPDATE over TCP", "knot", 1),
    Case("good path, Basic auth (address changes)", "good", 1),
]


@dataclass
class Result:
    """One run of one case."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non2xx: int = 0  # HTTP status not 2xx (wrk), or DNS rcode not NOERROR (Knot)
    bad: int = 0  # 2xx answers whose body did not start with the expected word
    socket: int = 0  # connect, read, write errors and timeouts
    sample: str = ""  # the first wrong answer, for the report
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU per request, by process
    busy: float = 0.0  # share of the whole machine's CPU time that was busy (all processes)
    drain_s: float = 0.0  # how long the server kept working after the load generator stopped

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.bad + self.socket


@dataclass(frozen=True)
class Host:
    index: int
    fqdn: str
    username: str
    password: str
    token: str

    @property
    def reset_address(self) -> str:
        return str(RESET_NET + self.index + 1)


class Bench:
    def __init__(self, config: dict, workdir: Path) -> None:
        self.zone = config["zone"].rstrip(".")
        self.update_host = config["update_host"]
        self.app_url = f"https://{self.update_host}:{config.get('app_port', 443)}/"
        self.seed_port = config.get("seed_port", 8443)
        self.seed_url = f"https://{self.update_host}:{self.seed_port}/"
        self.dns_server = config.get("dns_server", "127.0.0.1")
        self.dns_port = int(config.get("dns_port", 5353))
        self.duration = float(config.get("duration", 10))
        self.rounds = int(config.get("rounds", 3))
        self.cases = CASES + (FLOOR_CASES if config.get("floor") else [])
        algorithm, name, secret = Path(config["key_file"]).read_text().split()[0].split(":")
        self.key = dns.tsig.Key(name, secret, algorithm)
        self.hosts = [
            Host(i, f"{h['name']}.{self.zone}", h["name"], h["password"], h["url_token"])
            for i, h in enumerate(config["hosts"])
        ]
        if not 0 < len(self.hosts) < 250:
            raise SystemExit("bench.py: 1 to 249 hosts")
        self.workdir = workdir
        self.hostfile = workdir / "hosts"
        with open(os.open(self.hostfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            for h in self.hosts:
                auth = base64.b64encode(f"{h.username}:{h.password}".encode()).decode()
                f.write(f"{h.fqdn} {auth} {h.token} {h.reset_address}\n")
        self.lua = Path(config["lua"])
        self.good_next = 0  # the next request number of the good path (addresses 10.0.0.0 + n)
        self.knot_next = 0  # the next request number of the Knot generator (198.18.0.0 + n)
        self.results: dict[str, list[Result]] = {}
        self.warmup: list[tuple[str, Result]] = []
        self.notes: list[str] = []

    # --- DNS ---------------------------------------------------------------------------

    def reset_zone(self) -> None:
        """Every host's A record to its reset address, in one signed UPDATE."""
        update = dns.update.UpdateMessage(self.zone + ".")
        for h in self.hosts:
            update.delete(h.fqdn + ".", "A")
            update.add(h.fqdn + ".", 60, "A", h.reset_address)
        update.use_tsig(self.key)
        response = dns.query.tcp(update, self.dns_server, port=self.dns_port, timeout=10)
        if response.rcode() != dns.rcode.NOERROR:
            raise SystemExit(f"bench.py: reset answered {dns.rcode.to_text(response.rcode())}")

    def read_zone(self) -> list[tuple[str, str, str]]:
        """(owner, type, rdata) of every record, from knotc as root."""
        out = subprocess.run(
            ["knotc", "zone-read", self.zone], capture_output=True, text=True, check=True
        ).stdout
        records = []
        for line in out.splitlines():
            fields = line.split(None, 4)  # [zone.] owner ttl type rdata
            if len(fields) == 5:
                records.append((fields[1].lower(), fields[3].upper(), fields[4]))
        return records

    def serial(self) -> int:
        query = dns.message.make_query(self.zone + ".", "SOA")
        response = dns.query.tcp(query, self.dns_server, port=self.dns_port, timeout=10)
        return response.answer[0][0].serial

    def drain(self) -> float:
        """Wait until the server has finished the requests of clients that went away.

        wrk stops with requests in flight, and more queued for the WSGI daemon's threads;
        Apache and the app still answer them all, and a late good-path UPDATE would move a
        host away from the next case's reset address. Quiet: no TCP connection open on the
        HTTPS ports, no CPU tick of Apache or the app, and no new serial, for half a second.
        (CPU alone is not enough: an UPDATE can wait a second in Knot, idle; its request
        keeps its HTTPS connection open meanwhile. The app's own connections to Knot stay
        open between requests, so they say nothing.)
        """
        start = time.monotonic()
        ports = {443, self.seed_port}
        last = (server_ticks(), self.serial())
        while time.monotonic() - start < 120:
            time.sleep(0.5)
            busy = open_connections(ports)  # before this loop's own query to Knot
            now = (server_ticks(), self.serial())
            if not busy and now[1] == last[1] and now[0] - last[0] <= 1:
                break
            last = now
        return max(0.0, time.monotonic() - start - 0.5)

    def knot_load(self, concurrency: int, duration: float) -> Result:
        """Signed UPDATEs (delete A, add A) from `concurrency` threads, one TCP connection each."""
        counter = itertools.count(self.knot_next)
        latencies: list[list[float]] = [[] for _ in range(concurrency)]
        rejected = [0] * concurrency
        failed = [0] * concurrency
        samples: list[str] = []
        start = time.monotonic()
        deadline = start + duration

        def worker(k: int) -> None:
            while time.monotonic() < deadline:
                n = next(counter)
                if n >= KNOT_NET_SIZE:
                    raise RuntimeError("the Knot generator ran out of addresses")
                name = self.hosts[n % len(self.hosts)].fqdn + "."
                update = dns.update.UpdateMessage(self.zone + ".")
                update.delete(name, "A")
                update.add(name, 60, "A", str(KNOT_NET + n))
                update.use_tsig(self.key)
                began = time.perf_counter()
                try:
                    response = dns.query.tcp(
                        update, self.dns_server, port=self.dns_port, timeout=10
                    )
                except Exception as err:
                    failed[k] += 1
                    samples.append(type(err).__name__)
                    continue
                latencies[k].append(time.perf_counter() - began)
                if response.rcode() != dns.rcode.NOERROR:
                    rejected[k] += 1
                    samples.append(dns.rcode.to_text(response.rcode()))

        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            for future in [pool.submit(worker, k) for k in range(concurrency)]:
                future.result()
        seconds = time.monotonic() - start
        self.knot_next = next(counter)
        done = sorted(itertools.chain.from_iterable(latencies))
        return Result(
            requests=len(done),
            seconds=seconds,
            p50_ms=percentile(done, 50) * 1000,
            p99_ms=percentile(done, 99) * 1000,
            non2xx=sum(rejected),
            socket=sum(failed),
            sample=samples[0] if samples else "",
        )

    # --- HTTP (wrk) --------------------------------------------------------------------

    def wrk(self, case: Case, duration: float) -> Result:
        threads = min(case.concurrency, 2)
        seed = case.mode == "seed"
        base = self.good_next if case.mode == "good" else 0
        command = [
            "wrk",
            f"--threads={threads}",
            f"--connections={case.concurrency}",
            f"--duration={max(1, round(duration))}s",
            "--timeout=10s",
            f"--script={self.lua}",
            self.seed_url if seed else self.app_url,
            "--",
            case.mode,
            case.expect,
            str(base),
            str(threads),
            str(self.hostfile),
            f"{self.update_host}:{self.seed_port}" if seed else self.update_host,
        ] + (["close"] if case.close else [])
        run = subprocess.run(command, capture_output=True, text=True, check=False)
        lines = [ln for ln in run.stdout.splitlines() if ln.startswith("BENCH ")]
        if run.returncode != 0 or not lines:
            raise SystemExit(f"bench.py: wrk failed ({run.returncode}): {run.stderr.strip()}")
        data = json.loads(lines[-1][len("BENCH ") :])
        if case.mode == "good":
            self.good_next = data["next_base"]
        return Result(
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            p50_ms=data["p50_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            non2xx=data["non2xx"],
            bad=data["bad"],
            socket=data["connect"] + data["read"] + data["write"] + data["timeout"],
            sample=data["sample"],
        )

    # --- one case ----------------------------------------------------------------------

    def run_case(self, case: Case, duration: float) -> Result:
        self.reset_zone()
        before = cpu_snapshot()
        machine_before = machine_ticks()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        me = resource.getrusage(resource.RUSAGE_SELF)
        if case.mode == "knot":
            result = self.knot_load(case.concurrency, duration)
            client = resource.getrusage(resource.RUSAGE_SELF)
            client_s = cpu_seconds(client) - cpu_seconds(me)
        else:
            result = self.wrk(case, duration)
            client = resource.getrusage(resource.RUSAGE_CHILDREN)
            client_s = cpu_seconds(client) - cpu_seconds(children)
        spent = cpu_delta(before, cpu_snapshot())
        busy, total = (a - b for a, b in zip(machine_ticks(), machine_before, strict=True))
        result.drain_s = self.drain()
        result.busy = busy / total if total else 0.0
        spent["client"] = client_s
        if result.requests:
            result.cpu_ms = {k: v * 1000 / result.requests for k, v in spent.items()}
        return result

    def run(self) -> None:
        self.rss_before = wsgi_rss_mb()
        # Warm up every path once (the app loads on its first request); checked like the rest.
        for case in [Case("warm-up", m, 2) for m in ("basic", "token", "seed", "good")]:
            self.warmup.append((case.mode, self.run_case(case, 2)))
        self.rss_after_warmup = wsgi_rss_mb()
        for number in range(self.rounds):
            for case in self.cases:
                result = self.run_case(case, self.duration)
                self.results.setdefault(case.key, []).append(result)
                log(
                    f"round {number + 1}/{self.rounds} {case.label} c={case.concurrency}"
                    f"{' close' if case.close else ''}: {result.rate:.0f}/s "
                    f"p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms errors {result.errors}"
                )
        self.rss_after = wsgi_rss_mb()

    # --- checks ------------------------------------------------------------------------

    def allowed(self, host: Host, value: str) -> bool:
        """Whether `value` is an address that some request of the bench sent for `host`."""
        if value in (host.reset_address, SEED_ADDRESS):
            return True
        try:
            address = ipaddress.IPv4Address(value)
        except ValueError:
            return False
        for net, upper in ((GOOD_NET, self.good_next), (KNOT_NET, self.knot_next)):
            n = int(address) - int(net)
            if 0 <= n < upper and n % len(self.hosts) == host.index:
                return True
        return False

    def check_zone(self, before: list[tuple[str, str, str]]) -> list[str]:
        """What is wrong with the zone now; empty when nothing is."""
        problems = []
        fqdns = {h.fqdn + "." for h in self.hosts}
        static_before = {r for r in before if r[0] not in fqdns and r[1] != "SOA"}
        after = self.read_zone()
        static_after = {r for r in after if r[0] not in fqdns and r[1] != "SOA"}
        for owner, rtype, rdata in sorted(static_after - static_before):
            problems.append(f"unexpected record: {owner} {rtype} {rdata}")
        for owner, rtype, rdata in sorted(static_before - static_after):
            problems.append(f"record gone: {owner} {rtype} {rdata}")
        for h in self.hosts:
            records = [r for r in after if r[0] == h.fqdn + "."]
            values = [rdata for _, rtype, rdata in records if rtype == "A"]
            others = sorted({rtype for _, rtype, _ in records if rtype != "A"})
            if len(values) != 1 or others:
                problems.append(f"{h.fqdn}: {len(values)} A record(s), other types {others}")
            elif not self.allowed(h, values[0]):
                problems.append(f"{h.fqdn}: A {values[0]} was never sent for this host")
        return problems

    # --- report ------------------------------------------------------------------------

    def median(self, case: Case) -> Result | None:
        runs = self.results.get(case.key)
        if not runs:
            return None
        return sorted(runs, key=lambda r: r.rate)[(len(runs) - 1) // 2]

    def report(self, zone_problems: list[str], started: float) -> tuple[str, bool]:
        lines = [
            f"# selfhosted.dyndns bench, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"{len(self.hosts)} hosts; {self.rounds} rounds of every case, "
            f"{self.duration:g} s each, interleaved; the median round by req/s "
            "(its p50 and p99); errors summed over all rounds. "
            f"{machine()}",
            "",
            "| case | c | conn. | req/s | p50 ms | p99 ms | errors | req/s by round "
            "| CPU ms/req: app · apache · knot · client | machine busy |",
            "|---|---:|---|---:|---:|---:|---:|---|---|---:|",
        ]
        correct = True
        for case in self.cases:
            runs = self.results.get(case.key, [])
            med = self.median(case)
            if med is None:
                continue
            errors = sum(r.errors for r in runs)
            wrong = sum(r.non2xx + r.bad for r in runs)
            correct &= wrong == 0
            sample = next((r.sample for r in runs if r.sample), "")
            conn = "new TLS per call" if case.close else "keep-alive"
            if case.mode == "knot":
                conn = "new TCP per UPDATE"
            cpu = " · ".join(f"{med.cpu_ms.get(k, 0):.1f}" for k in CPU_COLUMNS)
            lines.append(
                f"| {case.label} | {case.concurrency} | {conn} | {med.rate:.0f} "
                f"| {med.p50_ms:.1f} | {med.p99_ms:.1f} "
                f"| {errors}{' (' + sample + ')' if sample else ''} "
                f"| {' / '.join(f'{r.rate:.0f}' for r in runs)} | {cpu} | {med.busy:.0%} |"
            )
        drains = [
            f"{case.label} c={case.concurrency}: {max(r.drain_s for r in runs):.1f} s"
            for case in self.cases
            if (runs := self.results.get(case.key)) and max(r.drain_s for r in runs) >= 1
        ]
        warm_wrong = sum(r.non2xx + r.bad for _, r in self.warmup)
        correct &= warm_wrong == 0 and not zone_problems

        def get(mode: str, c: int, close: bool = False) -> Result | None:
            return self.median(Case("", mode, c, close))

        basic, seed = get("basic", 8), get("seed", 8)
        lines += ["", "| target | measured | goal | |", "|---|---:|---:|---|"]

        def target(name: str, value: float | None, goal: str, ok: bool | None, unit="") -> None:
            shown = "n/a" if value is None else f"{value:.2f}{unit}"
            verdict = "n/a" if ok is None else ("PASS" if ok else "FAIL")
            lines.append(f"| {name} | {shown} | {goal} | {verdict} |")

        ratio = basic.rate / seed.rate if basic and seed and seed.rate else None
        target("nochg Basic auth / seed design, c=8", ratio, "≥ 5x", none_or(ratio, 5, ">="), "x")
        p99 = basic.p99_ms if basic else None
        target("p99 of nochg Basic auth, c=8", p99, "≤ 50 ms", none_or(p99, 50, "<="), " ms")
        for c in (8, 32):
            good, knot = get("good", c), get("knot", c)
            r = good.rate / knot.rate if good and knot and knot.rate else None
            target(f"good path / Knot alone, c={c}", r, "≥ 0.9x", none_or(r, 0.9, ">="), "x")
        target(
            f"WSGI daemon RSS after the bench (before: {fmt_mb(self.rss_before)}, "
            f"after warm-up: {fmt_mb(self.rss_after_warmup)})",
            self.rss_after,
            "≤ 60 MB",
            none_or(self.rss_after, 60, "<="),
            " MB",
        )
        token = get("token", 8)
        close = get("basic", 8, close=True)
        answers_right = warm_wrong == 0 and all(
            r.non2xx + r.bad == 0 for runs in self.results.values() for r in runs
        )
        lines += [
            "",
            "Beside the targets: nochg by secret URL / seed design "
            f"{fmt_ratio(token, seed)}; nochg Basic auth, new TLS per call / keep-alive "
            f"{fmt_ratio(close, basic)}.",
            "",
            "Server still at work after the load generator had stopped (requests of clients "
            "that went away; the longest of the rounds, if 1 s or more): "
            + ("; ".join(drains) or "none")
            + ".",
            "",
            "Correctness (fails the bench): every answer "
            + ("right" if answers_right else "NOT right (see errors above)")
            + "; final zone "
            + (
                "right (each host one A record it was sent, nothing else changed)"
                if not zone_problems
                else "WRONG:"
            ),
        ]
        lines += [f"- {p}" for p in zone_problems[:20]]
        lines += [
            "",
            "CPU ms/req: CPU time per answered request during the case, of the WSGI daemon "
            "(app), the other Apache processes with their children (TLS, embedded mod_wsgi, "
            "knsupdate), knotd, and the load generator (wrk, or this script's threads for Knot "
            "alone). Machine busy: the share of all CPUs of the machine (not only the "
            "container) that was not idle during the case. Errors: non-2xx or DNS error + "
            "wrong answer bodies + socket errors.",
            "",
            f"Bench run time: {time.monotonic() - started:.0f} s. "
            f"Result: {'PASS' if correct else 'FAIL'} (answers and zone); targets are reported, "
            "not enforced.",
        ]
        return "\n".join(lines) + "\n", correct


CPU_COLUMNS = ("app", "apache", "knot", "client")


def cpu_seconds(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def processes() -> dict[int, tuple[str, str, float]]:
    """pid -> (comm, argv[0], CPU seconds incl. reaped children) of every process."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            cmdline = Path(entry.path, "cmdline").read_bytes()
            argv0 = cmdline.split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        found[int(entry.name)] = (comm, argv0, ticks / TICK)
    return found


def is_wsgi_daemon(argv0: str) -> bool:
    """mod_wsgi writes its display name over argv[0], cut to the length of the original."""
    return len(argv0) >= 8 and WSGI_DISPLAY_NAME.startswith(argv0.split(" ", 1)[0])


def component(comm: str, argv0: str) -> str | None:
    if is_wsgi_daemon(argv0):
        return "app"
    if comm == "apache2":
        return "apache"
    if comm == "knotd":
        return "knot"
    return None


def open_connections(ports: set[int]) -> int:
    """TCP sockets to or from these ports that are neither listening nor in TIME_WAIT."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, remote, state = line.split()[1:4]
            if state in ("06", "0A"):  # TIME_WAIT, LISTEN
                continue
            if {int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)} & ports:
                count += 1
    return count


def server_ticks() -> int:
    """CPU ticks so far of Apache and the WSGI daemon."""
    return round(
        sum(s for c, a, s in processes().values() if component(c, a) in ("app", "apache")) * TICK
    )


def cpu_snapshot() -> dict[int, tuple[str | None, float]]:
    return {pid: (component(c, a), s) for pid, (c, a, s) in processes().items()}


def cpu_delta(before: dict, after: dict) -> dict[str, float]:
    spent = dict.fromkeys(("app", "apache", "knot"), 0.0)
    for pid, (name, seconds) in after.items():
        if name is not None:
            spent[name] += seconds - before.get(pid, (name, 0.0))[1]
    return spent


def wsgi_rss_mb() -> float | None:
    """RSS of the update app's mod_wsgi daemon process(es), in MB (MiB)."""
    out = subprocess.run(
        ["ps", "-eo", "rss=,args="], capture_output=True, text=True, check=True
    ).stdout
    sizes = [
        int(rss)
        for rss, args in (line.split(None, 1) for line in out.splitlines())
        if is_wsgi_daemon(args)
    ]
    return sum(sizes) / 1024 if sizes else None


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def none_or(value: float | None, goal: float, op: str) -> bool | None:
    if value is None:
        return None
    return value >= goal if op == ">=" else value <= goal


def fmt_mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"


def fmt_ratio(a: Result | None, b: Result | None) -> str:
    return f"{a.rate / b.rate:.2f}x" if a and b and b.rate else "n/a"


def machine() -> str:
    def version(command: list[str]) -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
        except OSError:
            return "?"
        return out.splitlines()[0].strip() if out else "?"

    release = "?"
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            release = line.split("=", 1)[1].strip('"')
    load = Path("/proc/loadavg").read_text().split()[:3]
    return (
        f"{release}, {os.cpu_count()} CPUs, kernel {platform.release()}; "
        f"{version(['knotc', '--version'])}; {version(['apache2', '-v']).split(': ')[-1]}; "
        f"load average at start (whole machine) {' '.join(load)}."
    )


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path, help="JSON: zone, hosts, ...")
    parser.add_argument("--report", required=True, type=Path, help="where the table goes")
    args = parser.parse_args()
    started = time.monotonic()
    config = json.loads(args.config.read_text())
    with tempfile.TemporaryDirectory(prefix="dyndns-bench-") as workdir:
        bench = Bench(config, Path(workdir))
        bench.reset_zone()
        zone_before = bench.read_zone()
        bench.run()
        problems = bench.check_zone(zone_before)
    text, correct = bench.report(problems, started)
    args.report.write_text(text)
    print(text)
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
