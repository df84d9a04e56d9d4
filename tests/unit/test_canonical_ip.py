"""The canonical_ip filter: one form for every way of writing an address."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.selfhosted.dyndns.plugins.filter.canonical_ip import canonical_ip


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("FD53:0053:0000:0000:0000:0000:0000:0011", "fd53:53::11"),
        ("fd53:53:0:0::11", "fd53:53::11"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        (" 203.0.113.53 ", "203.0.113.53"),
    ],
)
def test_any_written_form_gives_the_one_knot_prints(written, canonical):
    assert canonical_ip(written) == canonical


@pytest.mark.parametrize("bad", ["fd53:53::/64", "203.0.113.300", "ns1.example.org", "", None])
def test_what_is_not_an_address_fails_with_its_value(bad):
    with pytest.raises(AnsibleFilterError, match="is not an IPv4 or IPv6 address"):
        canonical_ip(bad)
