"""The credentials CLI: set-password, set-token, prune; atomic writes, exit codes."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from dyndns_update import auth, credentials
from dyndns_update.config import load_credentials

FILES = Path(__file__).resolve().parents[2] / "files"
HOME = "home.dyn.example.test"
NAS = "nas.dyn.example.test"
TOKEN = "tok-0123456789abcdefghijklmnopqrstuv"
TOKEN2 = "tok-zyxwvutsrqponmlkjihgfedcba9876543"


def run(
    capsys: pytest.CaptureFixture[str], path: Path, *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    code = credentials.main(["--file", str(path), *args], stdin=io.StringIO(stdin))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_set_password_creates_file_0600(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "credentials.json"
    assert run(capsys, path, "set-password", "home", stdin="home-password\n") == (0, "changed", "")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = load_credentials(str(path)).users
    assert auth.verify_password("home-password", users["home"])  # newline stripped
    assert not auth.verify_password("home-password\n", users["home"])


def test_set_password_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "credentials.json"
    run(capsys, path, "set-password", "home", stdin="home-password\n")
    before = path.read_bytes()
    inode = path.stat().st_ino
    assert run(capsys, path, "set-password", "home", stdin="home-password\n")[1] == "unchanged"
    assert path.read_bytes() == before
    assert path.stat().st_ino == inode  # not rewritten
    assert run(capsys, path, "set-password", "home", stdin="new-password")[1] == "changed"
    users = load_credentials(str(path)).users
    assert auth.verify_password("new-password", users["home"])
    assert not auth.verify_password("home-password", users["home"])


def test_strips_only_one_newline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "credentials.json"
    run(capsys, path, "set-password", "home", stdin="pass word \n\n")
    assert auth.verify_password("pass word \n", load_credentials(str(path)).users["home"])
    run(capsys, path, "set-password", "nas", stdin="windows-pw\r\n")
    assert auth.verify_password("windows-pw", load_credentials(str(path)).users["nas"])


def test_keeps_other_users_mode_and_leaves_no_temp_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "credentials.json"
    run(capsys, path, "set-password", "home", stdin="home-password")
    os.chmod(path, 0o640)
    run(capsys, path, "set-password", "nas", stdin="nas-password")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert set(load_credentials(str(path)).users) == {"home", "nas"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials.json"]


@pytest.mark.parametrize(
    ("user", "password", "message"),
    [
        ("home", "", "empty password"),
        ("home", "\n", "empty password"),
        ("home", "short", "shorter than 8"),
        ("home", "long-enough\0", "NUL character"),
        ("ho:me", "long-enough", "invalid username"),
        ("", "long-enough", "invalid username"),
    ],
)
def test_set_password_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], user: str, password: str, message: str
) -> None:
    path = tmp_path / "credentials.json"
    code, out, err = run(capsys, path, "set-password", user, stdin=password)
    assert code == 2
    assert out == ""
    assert message in err
    assert not path.exists()


def test_malformed_file_exits_2_and_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("{not json")
    code, _, err = run(capsys, path, "set-password", "home", stdin="home-password")
    assert code == 2
    assert "malformed JSON" in err
    assert path.read_text() == "{not json"
    path.write_text(json.dumps({"users": {"home": "plain-text-password"}}))
    code, _, err = run(capsys, path, "prune", "--users", "home")
    assert code == 2
    assert "bad hash for 'home'" in err


def test_set_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "credentials.json"
    assert run(capsys, path, "set-token", HOME, stdin=TOKEN + "\n")[1] == "changed"
    assert load_credentials(str(path)).tokens == {auth.token_hash(TOKEN): HOME}
    assert TOKEN not in path.read_text()
    assert run(capsys, path, "set-token", HOME, stdin=TOKEN)[1] == "unchanged"
    assert run(capsys, path, "set-token", NAS, stdin=TOKEN2)[1] == "changed"
    assert run(capsys, path, "set-token", HOME, stdin=TOKEN + "-new")[1] == "changed"
    assert load_credentials(str(path)).tokens == {
        auth.token_hash(TOKEN + "-new"): HOME,  # the old token of HOME is gone
        auth.token_hash(TOKEN2): NAS,
    }


@pytest.mark.parametrize(
    ("hostname", "token", "message"),
    [
        (HOME, "", "empty token"),
        (HOME, "short", "16 to 256 characters"),
        (HOME, "has spaces in it, sixteen+", "16 to 256 characters"),
        (HOME, "a/b" * 10, "16 to 256 characters"),
        ("Home.dyn.example.test", TOKEN, "invalid hostname"),
        ("nodots", TOKEN, "invalid hostname"),
    ],
)
def test_set_token_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], hostname: str, token: str, message: str
) -> None:
    code, _, err = run(capsys, tmp_path / "c.json", "set-token", hostname, stdin=token)
    assert code == 2
    assert message in err


def test_token_reused_for_another_host_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "credentials.json"
    run(capsys, path, "set-token", HOME, stdin=TOKEN)
    code, _, err = run(capsys, path, "set-token", NAS, stdin=TOKEN)
    assert code == 2
    assert "another host" in err
    assert load_credentials(str(path)).tokens == {auth.token_hash(TOKEN): HOME}


def test_prune(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "credentials.json"
    for user in ("home", "nas", "old"):
        run(capsys, path, "set-password", user, stdin=f"{user}-password")
    run(capsys, path, "set-token", HOME, stdin=TOKEN)
    run(capsys, path, "set-token", NAS, stdin=TOKEN2)
    assert run(capsys, path, "prune", "--users", "home,nas", "--hosts", HOME)[1] == "changed"
    creds = load_credentials(str(path))
    assert set(creds.users) == {"home", "nas"}
    assert creds.tokens == {auth.token_hash(TOKEN): HOME}
    assert run(capsys, path, "prune", "--users", "home,nas", "--hosts", HOME)[1] == "unchanged"
    assert run(capsys, path, "prune", "--hosts", "")[1] == "changed"  # users untouched
    creds = load_credentials(str(path))
    assert (set(creds.users), creds.tokens) == ({"home", "nas"}, {})
    assert run(capsys, path, "prune", "--users", "")[1] == "changed"
    assert load_credentials(str(path)).users == {}


def test_prune_creates_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "credentials.json"
    assert run(capsys, path, "prune", "--users", "", "--hosts", "")[1] == "changed"
    assert json.loads(path.read_text()) == {"tokens": {}, "users": {}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert run(capsys, path, "prune", "--users", "", "--hosts", "")[1] == "unchanged"


def test_as_module_with_stdin(tmp_path: Path) -> None:
    """The way Ansible calls it: python3 -m, secret on stdin, nothing secret in argv."""
    path = tmp_path / "credentials.json"
    env = {**os.environ, "PYTHONPATH": str(FILES)}
    command = [sys.executable, "-m", "dyndns_update.credentials", "--file", str(path)]
    done = subprocess.run(
        [*command, "set-password", "home"],
        input="home-password\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "changed\n")
    done = subprocess.run(
        [*command, "set-password", "home"],
        input="short\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert "shorter than 8" in done.stderr
    done = subprocess.run(
        [*command, "frobnicate"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_keeps_owner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "credentials.json"
    run(capsys, path, "set-password", "home", stdin="home-password")
    os.chown(path, 65534, 65534)
    assert run(capsys, path, "set-password", "nas", stdin="nas-password")[1] == "changed"
    assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
