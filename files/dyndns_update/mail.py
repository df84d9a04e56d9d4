"""The status CLI's mail (--mail-to): the report's table, sent through the local MTA when
the problems differ from those last mailed, which a small JSON file keeps.

A problem is the same while its kind, host and server stay: its message may change (the
hours since a host's last call) without a new mail.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any

from .config import write_atomically

SENDMAIL = "/usr/sbin/sendmail"
SENDMAIL_TIMEOUT = 60.0

Key = list[str | None]


class MailError(Exception):
    """The mail was not sent, or not recorded as sent; the message says why."""


def problem_keys(problems: Sequence[Mapping[str, Any]]) -> list[Key]:
    """What the mail compares: [kind, host, server] of each problem, sorted, once each."""
    keys = {(p["kind"], p.get("host"), p.get("server")) for p in problems}
    return [list(key) for key in sorted(keys, key=lambda k: tuple(x or "" for x in k))]


def last_mailed(path: str, to: str) -> list[Key]:
    """The problems last mailed to TO; none when nothing was mailed to TO (another
    address was) or the file is unusable: then a mail goes out whenever there is a
    problem."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or data.get("to") != to:
        return []
    keys = data.get("problems")
    return keys if isinstance(keys, list) else []


def subject(hostname: str, count: int) -> str:
    if count == 0:
        return f"dyndns {hostname}: all well again"
    return f"dyndns {hostname}: {count} problem{'' if count == 1 else 's'}"


def compose(to: str, subject_line: str, body: str) -> bytes:
    """The message for `sendmail -t`: To and Subject; no From, which the MTA sets."""
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = subject_line
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    message.set_content(body)
    return message.as_bytes()


def send(sendmail: str, message: bytes) -> None:
    """Hand MESSAGE to the MTA: `sendmail -t -oi` (recipients from its headers; a line
    holding a dot does not end it)."""
    try:
        done = subprocess.run(
            [sendmail, "-t", "-oi"],
            input=message,
            capture_output=True,
            timeout=SENDMAIL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise MailError(f"cannot run {sendmail}: {reason}") from err
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        said = f": {detail[0]}" if detail else ""
        raise MailError(f"{sendmail} exited with status {done.returncode}{said}")


def record(path: str, keys: list[Key], to: str, when: str) -> None:
    """Keep KEYS as the problems last mailed, atomically."""
    text = json.dumps({"problems": keys, "mailed": when, "to": to}, indent=2) + "\n"
    try:
        write_atomically(path, text, ".mailed.")
    except OSError as err:
        raise MailError(f"cannot record the mail in {path}: {err.strerror}") from err


def mail_if_changed(
    report: Mapping[str, Any], body: str, to: str, path: str, sendmail: str = SENDMAIL
) -> str | None:
    """Mail BODY to TO when the report's problems differ from those last mailed (kept in
    PATH); the subject of the mail sent, or None when none was due. MailError when it could
    not be sent (nothing recorded then, so the next run tries again) or recorded."""
    keys = problem_keys(report["problems"])
    if keys == last_mailed(path, to):
        return None
    subject_line = subject(report["hostname"], len(report["problems"]))
    send(sendmail, compose(to, subject_line, body))
    record(path, keys, to, report["generated"])
    return subject_line
