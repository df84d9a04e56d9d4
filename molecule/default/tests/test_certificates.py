"""Certificates for a home host by DNS-01 through this service, from the demo's ACME CA
(pebble, which resolves through a validating resolver from the parent zone down the
delegation): certbot with the client's hooks (dyndns2 password), certbot with the host's own
TSIG key (RFC 2136 plugin), lego with the settings the knot role wrote for that key, and a
name of another domain whose _acme-challenge is a CNAME into the dynamic zone.
"""

import re
import shlex
import time
from pathlib import Path

import pytest
from test_default import (
    ANSIBLE,
    HOME,
    PARENT,
    PRIMARY_ADDRESS6,
    SECONDARY_ADDRESS6,
    clients_quiet,  # noqa: F401 (a fixture: cron waits here too)
    in_transaction,
    name,  # noqa: F401 (a fixture)
    settings,  # noqa: F401 (a fixture)
    site_on_home,
    values,
)

LIVE = "/etc/letsencrypt/live"
TEST_CA = "/usr/local/share/dyndns-test-ca.pem"
LEGO = "/root/lego"


def certificate(path, *fields):
    return HOME.check_output(f"openssl x509 -noout {' '.join(fields)} -in {path}")


def names_on(path):
    return sorted(re.findall(r"DNS:([^,\s]+)", certificate(path, "-ext", "subjectAltName")))


def no_txt_left(owner):
    """No DNS-01 value stays behind, on either name server."""
    for server in (PRIMARY_ADDRESS6, SECONDARY_ADDRESS6):
        deadline = time.monotonic() + 5
        while values(server, owner, "TXT"):
            assert time.monotonic() < deadline, f"{server} still serves TXT at {owner}"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def host_keys():
    """Where the knot role wrote the settings of the host keys, on the controller."""
    var = "knot_host_key_settings_dir"
    return Path(ANSIBLE.ansible("ansible.builtin.debug", f"var={var}", check=False)[var])


def test_converge_got_home_a_certificate_with_its_dyndns2_password(name):  # noqa: F811
    path = f"{LIVE}/{name}/cert.pem"
    assert names_on(path) == sorted([name, f"*.{name}"])
    assert "Pebble" in certificate(path, "-issuer")
    renewal = HOME.file(f"/etc/letsencrypt/renewal/{name}.conf").content_string
    assert "authenticator = manual" in renewal
    assert "--certbot-auth" in renewal and "--certbot-cleanup" in renewal
    assert HOME.service("certbot.timer").is_running
    no_txt_left(f"_acme-challenge.{name}")


def test_the_hosts_own_key_gets_it_with_certbots_rfc2136_plugin(name):  # noqa: F811
    path = f"{LIVE}/{name}/cert.pem"
    before = certificate(path, "-serial")
    result = site_on_home({"client_certificate_method": "rfc2136"})
    assert result.returncode == 0, result.output
    assert certificate(path, "-serial") != before
    assert names_on(path) == sorted([name, f"*.{name}"])
    renewal = HOME.file(f"/etc/letsencrypt/renewal/{name}.conf").content_string
    assert "authenticator = dns-rfc2136" in renewal
    ini = HOME.file("/etc/dyndns-client/home.rfc2136.ini")
    assert (ini.user, ini.mode) == ("root", 0o600)
    no_txt_left(f"_acme-challenge.{name}")
    # certbot renews it the same way, through the key
    renew = HOME.run(
        f"REQUESTS_CA_BUNDLE={TEST_CA} certbot renew --cert-name {name} --force-renewal"
        " --no-random-sleep-on-renew"
    )
    assert renew.rc == 0, renew.stdout + renew.stderr
    no_txt_left(f"_acme-challenge.{name}")
    # back to the demo's way, for the tests after this one
    result = site_on_home()
    assert result.returncode == 0, result.output
    assert (
        "authenticator = manual"
        in HOME.file(f"/etc/letsencrypt/renewal/{name}.conf").content_string
    )
    assert not HOME.file("/etc/dyndns-client/home.rfc2136.ini").exists


def lego(host_keys, fqdn, *domains):
    """lego from Debian, with the knot role's lego settings for home's key, unmodified."""
    env = (host_keys / fqdn / "lego.env").read_text()
    HOME.run(f"rm -rf {LEGO} && mkdir -p {LEGO}")
    HOME.run(f"umask 077 && printf '%s' {shlex.quote(env)} > {LEGO}/lego.env")
    arguments = " ".join(f"--domains {shlex.quote(d)}" for d in domains)
    return HOME.run(
        f"set -a && . {LEGO}/lego.env && set +a && LEGO_CA_CERTIFICATES={TEST_CA}"
        f" lego --server https://acme:14000/dir --accept-tos --email hostmaster@example.test"
        f" --path {LEGO} --dns rfc2136 --dns.resolvers '[::1]:53' {arguments} run"
    )


def test_lego_gets_one_with_the_written_settings(name, host_keys):  # noqa: F811
    result = lego(host_keys, name, name, f"*.{name}")
    assert result.rc == 0, result.stdout + result.stderr
    assert names_on(f"{LEGO}/certificates/{name}.crt") == sorted([name, f"*.{name}"])
    no_txt_left(f"_acme-challenge.{name}")


def test_another_domain_points_its_challenge_here_with_a_cname(name, host_keys):  # noqa: F811
    """nas.example.test is the user's own name elsewhere (here: in the parent zone)."""
    other = "nas.example.test"
    in_transaction(
        PARENT,
        "example.test",
        "knotc zone-set example.test nas 60 A 192.0.2.80",
        f"knotc zone-set example.test _acme-challenge.nas 60 CNAME _acme-challenge.{name}.",
    )
    try:
        result = lego(host_keys, name, other)
        assert result.rc == 0, result.stdout + result.stderr
        assert names_on(f"{LEGO}/certificates/{other}.crt") == [other]
        no_txt_left(f"_acme-challenge.{name}")
    finally:
        in_transaction(
            PARENT,
            "example.test",
            "knotc zone-unset example.test nas",
            "knotc zone-unset example.test _acme-challenge.nas",
        )
        HOME.run(f"rm -rf {LEGO}")
