"""The host_names filter: the names of one dyndns_hosts entry, checked."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.selfhosted.dyndns.plugins.filter.host_names import host_names


def test_a_plain_host_owns_its_name_and_its_acme_name():
    assert host_names({"name": "home", "password": "x"}) == {
        "name": "home",
        "aliases": [],
        "lan": [],
        "acme": "_acme-challenge.home",
        "address_names": ["home"],
    }


def test_aliases_wildcard_and_lan_machines():
    names = host_names(
        {
            "name": "home",
            "aliases": ["www.home", "media"],
            "wildcard": True,
            "lan": [
                {"name": "nas.home", "interface_id": "::1234:5678:9ABC:DEF0"},
                {"name": "printer", "interface_id": "2001:db8::3:0:0:0:10", "prefix_length": 56},
            ],
        }
    )
    assert names["aliases"] == ["www.home", "media", "*.home"]
    assert names["lan"] == [
        {"name": "nas.home", "interface_id": "::1234:5678:9abc:def0", "prefix_length": 64},
        {"name": "printer", "interface_id": "2001:db8:0:3::10", "prefix_length": 56},
    ]
    assert names["address_names"] == ["home", "www.home", "media", "*.home", "nas.home", "printer"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"aliases": ["WWW.home"]}, "alias 'WWW.home' is not lowercase DNS labels"),
        ({"aliases": ["www.home.dyn.example.org."]}, "is not lowercase DNS labels"),
        ({"aliases": ["*.www"]}, "alias '*.www' is not"),
        ({"aliases": ["_acme-challenge.www"]}, "is not lowercase DNS labels"),
        ({"aliases": [""]}, "alias '' is not"),
        ({"lan": [{"interface_id": "::1"}]}, "lan name None is not"),
        ({"lan": ["nas"]}, "lan entry 'nas' is not a dict"),
        ({"lan": [{"name": "nas", "interface_id": "192.0.2.1"}]}, "lan nas: interface_id is not"),
        ({"lan": [{"name": "nas"}]}, "lan nas: interface_id is not an IPv6 address"),
        (
            {"lan": [{"name": "nas", "interface_id": "2001:db8::"}]},
            "has no bits after the first 64",
        ),
        (
            {"lan": [{"name": "nas", "interface_id": "::1", "prefix_length": 16}]},
            "prefix_length is not a number from 32 to 120",
        ),
    ],
)
def test_bad_names_and_identifiers_fail_naming_the_host(entry, message):
    with pytest.raises(AnsibleFilterError, match="entry 'home'") as info:
        host_names({"name": "home", **entry})
    assert message in str(info.value)
