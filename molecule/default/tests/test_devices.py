"""The device settings at work: Debian's own ddclient and inadyn (3.10 and 2.10 on Debian 12,
3.11 and 2.11 on Debian 13) and the curl script, run on the home client with the files the
device_settings playbook writes, copied unchanged, set the name's A and AAAA to home's
addresses through the endpoint.
"""

import base64
import shlex

import pytest
from test_default import (
    DEVICES,
    HOME,
    HOME_ADDRESS,
    HOME_ADDRESS6,
    PEBBLE_ROOT,
    clients_quiet,  # noqa: F401 (a fixture: cron waits here too)
    dns_server,  # noqa: F401 (a fixture)
    name,  # noqa: F401 (a fixture)
    run_playbook,
    settings,  # noqa: F401 (a fixture)
    update,
    values,
)

WORK = "/root/device-settings-test"
# How each program runs once, in the foreground, on the file as written for the device.
RUNS = {
    "ddclient.conf": "ddclient -daemon=0 -foreground -force -verbose -file {file}"
    f" -cache {WORK}/ddclient.cache",
    "inadyn.conf": f"inadyn --once --force --foreground --no-pidfile --cache-dir={WORK}/inadyn"
    " -f {file}",
    "curl.sh": "sh {file}",
}


@pytest.fixture(scope="module")
def device_files(settings, tmp_path_factory):  # noqa: F811
    """The settings of the first host, as the playbook writes them on the controller."""
    directory = tmp_path_factory.mktemp("device-settings")
    result = run_playbook(DEVICES, None, {"client_device_settings_dir": str(directory)})
    assert result.returncode == 0, result.output
    host = settings["dyndns_hosts"][0]["name"]
    return {device: (directory / f"{host}.{device}").read_text() for device in RUNS}


@pytest.fixture(scope="module", autouse=True)
def restored(settings, name, dns_server):  # noqa: F811
    """The name's addresses as they were, and no trace of the runs on home, afterwards."""
    before = values(dns_server, name, "A") + values(dns_server, name, "AAAA")
    yield
    HOME.run(f"rm -rf {WORK}")
    if values(dns_server, name, "A") + values(dns_server, name, "AAAA") != before and before:
        update(settings, name, "&myip=" + ",".join(before))


def test_settings_trust_the_demo_ca(device_files):
    assert f"ssl_ca_file={PEBBLE_ROOT}\n" in device_files["ddclient.conf"]
    assert f"ca-trust-file = {PEBBLE_ROOT}\n" in device_files["inadyn.conf"]
    assert f"--cacert {PEBBLE_ROOT}" in device_files["curl.sh"]


@pytest.mark.parametrize("device", list(RUNS))
def test_device_sets_home_addresses(settings, name, dns_server, device_files, device):  # noqa: F811
    status, _, body = update(settings, name, "&myip=203.0.113.61,2001:db8::61")
    assert (status, body) == (200, "good 203.0.113.61,2001:db8::61")
    file = f"{WORK}/{device}"
    content = base64.b64encode(device_files[device].encode()).decode()
    copy = HOME.run(f"umask 077 && mkdir -p {WORK}/inadyn && echo {content} | base64 -d > {file}")
    assert copy.rc == 0, copy.stderr

    result = HOME.run(RUNS[device].format(file=shlex.quote(file)))
    output = result.stdout + result.stderr
    assert result.rc == 0, output
    assert values(dns_server, name, "A") == [HOME_ADDRESS], output
    assert values(dns_server, name, "AAAA") == [HOME_ADDRESS6], output
