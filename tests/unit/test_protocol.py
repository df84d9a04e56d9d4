"""Request parsing, address rules and answer formatting (pure code)."""

from __future__ import annotations

import ipaddress

import pytest
from dyndns_update.protocol import (
    AcmeDnsError,
    BadRequest,
    Code,
    UpdateRequest,
    acme_name,
    format_body,
    format_line,
    is_in_zone,
    lan_address,
    normalize_hostname,
    parse_acme_dns,
    parse_address,
    parse_query,
    parse_txt,
    parse_txt_edits,
    parse_update_request,
    split_values,
)
from unit_support import ZONE

V4 = ipaddress.IPv4Address("203.0.113.7")
V6 = ipaddress.IPv6Address("2001:db8::7")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("home.dyn.example.test", "home.dyn.example.test"),
        ("Home.DYN.example.test", "home.dyn.example.test"),
        ("home.dyn.example.test.", "home.dyn.example.test"),
        (" home.dyn.example.test ", "home.dyn.example.test"),
        ("a-b.dyn.example.test", "a-b.dyn.example.test"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("localhost", None),
        ("", None),
        (".", None),
        ("home..example.test", None),
        ("-home.example.test", None),
        ("home-.example.test", None),
        ("ho_me.example.test", None),
        ("_acme-challenge.home.example.test", None),
        ("home example.test", None),
        ("home\n.example.test", None),  # a label's end is not before its newline
        ("bücher.example", None),
        ("203.0.113.7", None),
        ("a" * 64 + ".example.test", None),
        (".".join(["a" * 63] * 4), None),  # 255 characters
    ],
)
def test_normalize_hostname(raw: str, expected: str | None) -> None:
    assert normalize_hostname(raw) == expected


def test_zone_membership_and_acme_name() -> None:
    assert is_in_zone(f"home.{ZONE}", ZONE)
    assert is_in_zone(ZONE, ZONE)
    assert not is_in_zone(f"home.x{ZONE}", ZONE)
    assert acme_name(f"home.{ZONE}") == f"_acme-challenge.home.{ZONE}"


def test_split_values_and_query() -> None:
    params = parse_query("hostname=a.example,%20b.example,,&hostname=c.example&myip=")
    assert split_values(params["hostname"]) == ["a.example", "b.example", "c.example"]
    assert params["myip"] == [""]
    assert split_values(params.get("missing")) == []


@pytest.mark.parametrize(
    "text",
    [
        "0.0.0.0",
        "0.1.2.3",
        "127.0.0.1",
        "224.0.0.1",
        "169.254.1.1",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "ff02::1",
        "fe80::1",
        "fe80::1%eth0",
        "fec0::1",
        "::ffff:127.0.0.1",
        "garbage",
        "",
        "1.2.3",
        "01.2.3.4",
        "203.0.113.7/24",
    ],
)
def test_unusable_addresses(text: str) -> None:
    assert parse_address(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.7", V4),
        ("10.1.2.3", ipaddress.IPv4Address("10.1.2.3")),
        ("2001:db8::7", V6),
        ("2001:DB8:0:0::7", V6),
        ("fd00::1", ipaddress.IPv6Address("fd00::1")),
        ("::ffff:203.0.113.7", V4),
    ],
)
def test_usable_addresses(text: str, expected: object) -> None:
    assert parse_address(text) == expected


def req(query: str, remote: str | None = "198.51.100.2") -> UpdateRequest:
    return parse_update_request(parse_query(query), remote)


def bad(query: str, remote: str | None = "198.51.100.2") -> Code:
    with pytest.raises(BadRequest) as info:
        req(query, remote)
    return info.value.code


def test_default_is_remote_addr_family_only() -> None:
    assert req("hostname=h", "203.0.113.7") == UpdateRequest(ipv4=V4, from_caller=True)
    assert req("hostname=h", "2001:db8::7") == UpdateRequest(ipv6=V6, from_caller=True)
    assert req("hostname=h", "::ffff:203.0.113.7") == UpdateRequest(ipv4=V4, from_caller=True)


def test_bad_remote_addr() -> None:
    assert bad("hostname=h", "127.0.0.1") == Code.BADIP
    assert bad("hostname=h", None) == Code.BADIP


def test_explicit_addresses_replace_remote_addr() -> None:
    assert req("myip=203.0.113.7", "2001:db8::99") == UpdateRequest(ipv4=V4)
    assert req("myip=2001:db8::7", "203.0.113.99") == UpdateRequest(ipv6=V6)
    assert req("myip=203.0.113.7,2001:db8::7") == UpdateRequest(ipv4=V4, ipv6=V6)
    assert req("myip=2001:db8::7,203.0.113.7") == UpdateRequest(ipv4=V4, ipv6=V6)
    assert req("myip=203.0.113.7&myipv6=2001:db8::7") == UpdateRequest(ipv4=V4, ipv6=V6)
    assert req("myip6=2001:db8::7") == UpdateRequest(ipv6=V6)
    assert req("myipv6=2001:db8::7&myip6=2001:db8:0::7") == UpdateRequest(ipv6=V6)


def test_empty_address_parameters_count_as_absent() -> None:
    # FRITZ!Box leaves <ip6addr> empty when it has no IPv6
    # (`empty` says which, for a host that asked for deSEC's convention: see for_host)
    assert req("myip=203.0.113.7&myipv6=") == UpdateRequest(ipv4=V4, empty=frozenset({"AAAA"}))
    assert req("myip=&myipv6=", "203.0.113.7") == UpdateRequest(
        ipv4=V4, empty=frozenset({"A", "AAAA"}), from_caller=True
    )


@pytest.mark.parametrize(
    "query",
    [
        "myip=127.0.0.1",
        "myip=garbage",
        "myip=203.0.113.7,203.0.113.8",
        "myip=2001:db8::7,2001:db8::8",
        "myip=2001:db8::7&myipv6=2001:db8::8",
        "myipv6=203.0.113.7",
        "myip=203.0.113.7,::1",
        "myip=203.0.113.7&myip6=fe80::1",
    ],
)
def test_bad_explicit_addresses(query: str) -> None:
    assert bad(query) == Code.BADIP


def test_txt_values() -> None:
    assert parse_txt(None) is None
    assert parse_txt([""]) == ()
    assert parse_txt(["abc", "def"]) == ("abc", "def")
    assert parse_txt(["abc", "abc"]) == ("abc",)
    assert parse_txt(["x" * 255]) == ("x" * 255,)


@pytest.mark.parametrize(
    "values",
    [["a", "b", "c", "d", "e"], ["x" * 256], ["tab\there"], ["ümlaut"], ["a", ""], ["", ""]],
)
def test_bad_txt_values(values: list[str]) -> None:
    with pytest.raises(BadRequest) as info:
        parse_txt(values)
    assert info.value.code == Code.BADTXT


def test_txt_edits() -> None:
    assert parse_txt_edits({}) == ((), ())
    assert parse_txt_edits({"addtxt": ["a", "b", "a"]}) == (("a", "b"), ())
    assert parse_txt_edits({"deltxt": ["x" * 255]}) == ((), ("x" * 255,))
    assert parse_txt_edits({"addtxt": ["a"], "deltxt": ["b", "c"]}) == (("a",), ("b", "c"))
    assert req("addtxt=v", "203.0.113.7") == UpdateRequest(txt_add=("v",))
    assert req("deltxt=v&myip=203.0.113.7") == UpdateRequest(ipv4=V4, txt_delete=("v",))
    assert req("deltxt=v").edits_txt and not req("txt=v").edits_txt


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("addtxt=", "addtxt value not 1..255 characters"),
        ("deltxt=" + "x" * 256, "deltxt value not 1..255 characters"),
        ("addtxt=%C3%BC", "addtxt value not printable ASCII"),
        ("addtxt=a&addtxt=b&deltxt=c&deltxt=d&addtxt=e", "more than 4 addtxt and deltxt values"),
        ("txt=a&addtxt=b", "txt together with addtxt or deltxt"),
        ("txt=&deltxt=b", "txt together with addtxt or deltxt"),
        ("addtxt=a&deltxt=a", "one value both in addtxt and deltxt"),
    ],
)
def test_bad_txt_edits(query: str, reason: str) -> None:
    with pytest.raises(BadRequest) as err:
        req(query)
    assert (err.value.code, err.value.reason) == (Code.BADTXT, reason)


def test_txt_alone_sets_no_address() -> None:
    assert req("txt=token-value", "203.0.113.7") == UpdateRequest(txt=("token-value",))
    assert req("txt=", "203.0.113.7") == UpdateRequest(txt=())


def test_txt_with_explicit_address() -> None:
    assert req("txt=v&myip=203.0.113.7") == UpdateRequest(ipv4=V4, txt=("v",))


def test_bad_txt_is_badtxt_even_with_good_address() -> None:
    assert bad("txt=a&txt=&myip=203.0.113.7") == Code.BADTXT


def test_answer_lines() -> None:
    assert format_line(Code.GOOD, [V4]) == "good 203.0.113.7"
    assert format_line(Code.GOOD, [V4, V6]) == "good 203.0.113.7,2001:db8::7"
    assert format_line(Code.NOCHG, [V6]) == "nochg 2001:db8::7"
    assert format_line(Code.GOOD) == "good"
    assert format_line(Code.NOHOST, [V4]) == "nohost"
    assert format_line(Code.SERVERERROR) == "911"
    assert format_body(["good 203.0.113.7", "nohost"]) == b"good 203.0.113.7\nnohost\n"


def test_codes_are_the_dyndns2_strings() -> None:
    assert {str(c) for c in Code} == {
        "good",
        "nochg",
        "badauth",
        "notfqdn",
        "nohost",
        "numhost",
        "abuse",
        "badagent",
        "dnserr",
        "911",
        "badip",
        "badtxt",
    }


P = ipaddress.IPv6Address("2001:db8:1:2::")


@pytest.mark.parametrize(
    "query",
    [
        "ip6lanprefix=2001:db8:1:2::/64",  # as a FRITZ!Box sends <ip6lanprefix>
        "ip6lanprefix=2001:db8:1:2::",  # no length: /64
        "myipv6prefix=2001:DB8:1:2:0:0:0:0/64",
        "ip6lanprefix=2001:db8:1:2::/64&myipv6prefix=2001:db8:1:2::/64",
        "ip6lanprefix=2001:db8:1:2::5/64",  # host bits are dropped
    ],
)
def test_lan_prefix_forms(query: str) -> None:
    assert req(query + "&myip=203.0.113.7").lan_prefix == P


def test_lan_prefix_keeps_its_own_length_up_to_64() -> None:
    assert req("ip6lanprefix=2001:db8:1:200::/56").lan_prefix == ipaddress.IPv6Address(
        "2001:db8:1:200::"
    )
    assert req("ip6lanprefix=2001:db8:1:2ff::/56").lan_prefix == ipaddress.IPv6Address(
        "2001:db8:1:200::"
    )


def test_empty_prefix_is_absent_and_the_prefix_defaults_to_the_ipv6_address() -> None:
    request = req("myip=203.0.113.7&myipv6=2001:db8::7&ip6lanprefix=")
    assert request.lan_prefix is None
    assert request.prefix == V6
    assert req("hostname=h", "2001:db8::7").prefix == V6
    assert req("hostname=h", "203.0.113.7").prefix is None
    assert req("myipv6=2001:db8::7&ip6lanprefix=2001:db8:1:2::/64").prefix == P


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("ip6lanprefix=garbage", "prefix unusable"),
        ("ip6lanprefix=2001:db8:1:2::/65", "prefix length not /32 to /64"),
        ("ip6lanprefix=2001:db8:1:2::1/128", "prefix length not /32 to /64"),
        ("ip6lanprefix=2001:db8::/16", "prefix length not /32 to /64"),
        ("ip6lanprefix=2001:db8:1:2::/64x", "prefix unusable"),
        ("ip6lanprefix=192.0.2.0/24", "IPv4 prefix in an IPv6 prefix parameter"),
        ("ip6lanprefix=192.0.2.1", "IPv4 prefix in an IPv6 prefix parameter"),
        ("ip6lanprefix=fe80::/64", "prefix unusable"),
        ("ip6lanprefix=fe80::%25eth0/64", "prefix unusable"),
        ("ip6lanprefix=ff02::/64", "prefix unusable"),
        ("ip6lanprefix=::/64", "prefix unusable"),
        ("ip6lanprefix=2001:db8:1:2::/64&myipv6prefix=2001:db8:1:3::/64", "more than one prefix"),
        ("ip6lanprefix=2001:db8:1:2::/64,2001:db8:1:3::/64", "more than one prefix"),
    ],
)
def test_bad_prefixes_are_refused_with_their_reason(query: str, reason: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_update_request(parse_query(query + "&myip=203.0.113.7"), None)
    assert err.value.code == Code.BADIP
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("interface_id", "length", "expected"),
    [
        ("::1234:5678:9abc:def0", 64, "2001:db8:1:2:1234:5678:9abc:def0"),
        ("2001:db8:ffff:ffff:1234:5678:9abc:def0", 64, "2001:db8:1:2:1234:5678:9abc:def0"),
        ("::3:0:0:0:10", 56, "2001:db8:1:3::10"),  # a machine in another /64 of a /56
        ("::10", 120, "2001:db8:1:2::10"),
    ],
)
def test_lan_address_is_prefix_then_interface_id(
    interface_id: str, length: int, expected: str
) -> None:
    ident = ipaddress.IPv6Address(interface_id)
    assert lan_address(P, ident, length) == ipaddress.IPv6Address(expected)


def test_none_clears_a_family_and_uses_no_caller_address() -> None:
    assert req("myipv6=none", "203.0.113.7") == UpdateRequest(clear=frozenset({"AAAA"}))
    assert req("myip6=NONE") == UpdateRequest(clear=frozenset({"AAAA"}))
    assert req("myipv4=none&myipv6=2001:db8::7") == UpdateRequest(ipv6=V6, clear=frozenset({"A"}))
    assert req("myipv4=none&myipv6=none").clear == frozenset({"A", "AAAA"})


def test_myipv4_carries_ipv4_only() -> None:
    assert req("myipv4=203.0.113.7") == UpdateRequest(ipv4=V4)
    with pytest.raises(BadRequest) as err:
        req("myipv4=2001:db8::7")
    assert err.value.reason == "IPv6 address in myipv4"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("myip=none", "none in myip: say myipv4=none or myipv6=none"),
        ("myipv6=none&myip=2001:db8::7", "a family both set and cleared"),
        ("myipv4=none&myip=203.0.113.7", "a family both set and cleared"),
    ],
)
def test_clearing_mistakes_are_refused(query: str, reason: str) -> None:
    with pytest.raises(BadRequest) as err:
        req(query)
    assert (err.value.code, err.value.reason) == (Code.BADIP, reason)


def test_an_empty_parameter_clears_only_for_a_host_that_asked_for_it() -> None:
    fritzbox_without_ipv6 = req("myip=203.0.113.7&myipv6=&ip6lanprefix=")
    assert fritzbox_without_ipv6.for_host(empty_clears=False) == fritzbox_without_ipv6
    assert fritzbox_without_ipv6.for_host(empty_clears=True) == UpdateRequest(
        ipv4=V4, clear=frozenset({"AAAA"})
    )
    # every address parameter empty: the caller's own address is not used either
    ds_lite = req("myip=&myipv6=2001:db8::7")
    assert ds_lite.for_host(empty_clears=True) == UpdateRequest(ipv6=V6, clear=frozenset({"A"}))
    assert req("myip=", "203.0.113.7").for_host(empty_clears=True) == UpdateRequest(
        clear=frozenset({"A"})
    )
    # no parameter at all: the caller's address, as for every host
    plain = req("hostname=h", "203.0.113.7")
    assert plain.for_host(empty_clears=True) == plain


VALUE = "gfj9Xq-Mu1p8aO4nZwWw8bU0eLvJ7kzxRZ5yIw5mLzE"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"subdomain": "home", "txt": "%s"}', (f"home.{ZONE}", VALUE)),
        (b'{"subdomain": "Home.Dyn.Example.Test.", "txt": "%s"}', (f"home.{ZONE}", VALUE)),
        (b'{"subdomain": "a-b", "txt": "%s", "other": 1}', (f"a-b.{ZONE}", VALUE)),
        (b'{"subdomain": "dyn.example.test", "txt": "%s"}', (ZONE, VALUE)),
    ],
)
def test_acme_dns_body(body: bytes, expected: tuple[str, str]) -> None:
    assert parse_acme_dns(body.replace(b"%s", VALUE.encode()), ZONE) == expected


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (None, "malformed_json_payload"),
        (b"\xff", "malformed_json_payload"),
        (b'"home"', "malformed_json_payload"),
        (b'{"txt": "%s"}', "bad_subdomain"),
        (b'{"subdomain": "", "txt": "%s"}', "bad_subdomain"),
        (b'{"subdomain": "_acme-challenge", "txt": "%s"}', "bad_subdomain"),
        (b'{"subdomain": "home.example.org", "txt": "%s"}', "bad_subdomain"),
        (b'{"subdomain": "home", "txt": "%s="}', "bad_txt"),
        (b'{"subdomain": "home", "txt": "%s\\n"}', "bad_txt"),
        (b'{"subdomain": "home", "txt": ["%s"]}', "bad_txt"),
    ],
)
def test_bad_acme_dns_body(body: bytes | None, error: str) -> None:
    with pytest.raises(AcmeDnsError) as err:
        parse_acme_dns(body.replace(b"%s", VALUE.encode()) if body else body, ZONE)
    assert err.value.error == error
