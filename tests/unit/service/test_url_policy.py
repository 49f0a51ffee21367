"""The callback URL policy: the IANA special-purpose registries and every IPv6 form that embeds an
IPv4 address (mapped, translated, compatible, NAT64, 6to4, Teredo), property-style with a fixed
seed plus explicit cases."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

import pytest
from facesvg.service.errors import InvalidCallbackUrl
from facesvg.service.url_policy import (
    IPV4_SPECIAL,
    IPV6_SPECIAL,
    UrlPolicy,
    address_problem,
    check_callback_url,
)

AWS = UrlPolicy()
LOCAL = UrlPolicy(allow_http=True, allow_loopback=True)
SEED = 20261207
SAMPLES_PER_NETWORK = 40

# Public unicast addresses outside every special-purpose entry (one per continent's RIR space).
PUBLIC_V4 = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "151.101.1.69", "41.0.0.1", "200.160.2.3"]
PUBLIC_V6 = ["2606:2800:220:1:248:1893:25c8:1946", "2a00:1450:4001:82a::200e", "2c0f:fb50:4002::1"]


def _random_in(network: str, rng: random.Random, n: int = SAMPLES_PER_NETWORK) -> list[str]:
    net = ipaddress.ip_network(network)
    picks = {net.network_address, net.broadcast_address}
    picks |= {net.network_address + rng.randrange(net.num_addresses) for _ in range(n)}
    return [str(a) for a in sorted(picks)]


def _embeddings(v4: str, rng: random.Random) -> dict[str, str]:
    """Every IPv6 form that stands for ``v4``."""
    n = int(ipaddress.IPv4Address(v4))
    public = int(ipaddress.IPv4Address(PUBLIC_V4[0]))
    teredo_server = ipaddress.IPv6Address(
        (0x20010000 << 96) | (n << 64) | (rng.getrandbits(32) << 32) | (public ^ 0xFFFFFFFF)
    )
    teredo_client = ipaddress.IPv6Address(
        (0x20010000 << 96) | (public << 64) | (rng.getrandbits(16) << 48) | ((n ^ 0xFFFFFFFF) & 0xFFFFFFFF)
    )
    return {
        "mapped": f"::ffff:{v4}",
        "translated": str(ipaddress.IPv6Address((0xFFFF << 32) | n)),
        "compatible": str(ipaddress.IPv6Address(n)),
        "nat64": str(ipaddress.IPv6Address((0x64FF9B << 96) | n)),
        "6to4": str(ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | rng.getrandbits(64))),
        "teredo server": str(teredo_server),
        "teredo client": str(teredo_client),
    }


def resolver(*addresses: str) -> Any:
    return lambda host, port: list(addresses)


NOT_GLOBAL = [e for e in IPV4_SPECIAL + IPV6_SPECIAL if e.globally_reachable is False]


@pytest.mark.parametrize("entry", NOT_GLOBAL, ids=lambda e: e.network)
def test_every_address_of_every_not_globally_reachable_registry_entry_is_refused(entry: Any) -> None:
    rng = random.Random(f"{SEED}:{entry.network}")
    for address in _random_in(entry.network, rng):
        assert address_problem(address, AWS), address


@pytest.mark.parametrize(
    "forbidden",
    [e.network for e in IPV4_SPECIAL if e.globally_reachable is False] + ["224.0.0.0/4"],
)
def test_every_ipv6_form_embedding_a_forbidden_ipv4_is_refused_naming_what_it_embeds(forbidden: str) -> None:
    rng = random.Random(f"{SEED}:{forbidden}")
    for v4 in _random_in(forbidden, rng, n=8):
        for form, v6 in _embeddings(v4, rng).items():
            problem = address_problem(v6, AWS)
            assert problem, (form, v4, v6)
            if form != "compatible" or int(ipaddress.IPv4Address(v4)) > 1:
                assert v4 in problem, (form, v4, v6, problem)


def test_public_addresses_and_the_forms_that_embed_them_are_accepted() -> None:
    rng = random.Random(SEED)
    for v4 in PUBLIC_V4:
        assert address_problem(v4, AWS) is None, v4
        for form, v6 in _embeddings(v4, rng).items():
            if form == "compatible":  # deprecated: no stack routes it, whatever it embeds
                assert address_problem(v6, AWS) == "an IPv4-compatible address (deprecated)"
            elif form.startswith("teredo"):  # inside 2001::/23, which is not globally reachable
                assert "2001::/23" in str(address_problem(v6, AWS)), v6
            else:
                assert address_problem(v6, AWS) is None, (form, v6)
    for v6 in PUBLIC_V6:
        assert address_problem(v6, AWS) is None, v6


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("2002:7f00:1::", "embeds 127.0.0.1"),  # 6to4 loopback
        ("2002:a9fe:a9fe::1", "embeds 169.254.169.254"),  # 6to4 instance metadata
        ("2002:c0a8:101::1", "embeds 192.168.1.1"),  # 6to4 private
        ("2002:0a00:0001::", "embeds 10.0.0.1"),
        ("64:ff9b::a9fe:a9fe", "embeds 169.254.169.254"),  # NAT64 instance metadata
        ("64:ff9b::7f00:1", "embeds 127.0.0.1"),
        ("64:ff9b:1::808:808", "local-use NAT64"),  # RFC 8215: never global, whatever it embeds
        ("::ffff:127.0.0.1", "embeds 127.0.0.1"),
        ("::ffff:0:a00:1", "embeds 10.0.0.1"),  # IPv4-translated (RFC 2765)
        ("::a9fe:a9fe", "embeds 169.254.169.254"),  # IPv4-compatible
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "embeds 127.0.0.1"),  # Teredo: client ~0x80fffffe
        ("fec0::1", "site-local"),
        ("fec0:1234::abcd", "site-local"),
        ("192.0.0.1", "service continuity"),
        ("192.0.0.9", "IETF protocol assignment"),  # PCP anycast: not a webhook receiver
        ("192.0.0.170", "NAT64/DNS64 discovery"),
        ("192.0.0.200", "IETF protocol assignment"),
        ("198.18.0.1", "benchmarking"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "not a global unicast"),
        ("100::1", "discard-only"),
        ("2001:20::1", "2001::/23"),  # ORCHIDv2: an identifier, inside the IETF block
        ("2001:1::1", "2001::/23"),  # PCP anycast
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("5f00::1", "segment routing"),
        ("4000::1", "not a global unicast"),  # unallocated: outside 2000::/3
        ("fe80::1%eth0", "link-local"),
        ("not-an-ip", "unparseable"),
    ],
)
def test_explicit_cases(address: str, reason: str) -> None:
    problem = address_problem(address, AWS)
    assert problem and reason in problem, problem


def test_teredo_names_either_forbidden_end_and_is_refused_even_with_public_ends() -> None:
    public = int(ipaddress.IPv4Address("93.184.216.34"))
    for server, client in [("10.0.0.1", "93.184.216.34"), ("93.184.216.34", "127.0.0.1")]:
        s, c = int(ipaddress.IPv4Address(server)), int(ipaddress.IPv4Address(client))
        address = str(ipaddress.IPv6Address((0x20010000 << 96) | (s << 64) | (c ^ 0xFFFFFFFF)))
        problem = address_problem(address, AWS)
        assert problem and f"embeds {server if server != '93.184.216.34' else client}" in problem
    both_public = (0x20010000 << 96) | (public << 64) | (public ^ 0xFFFFFFFF)
    assert "2001::/23" in str(address_problem(str(ipaddress.IPv6Address(both_public)), AWS))


def test_the_local_policy_allows_loopback_in_every_form_and_nothing_else() -> None:
    for address in ("127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"):
        assert address_problem(address, LOCAL) is None, address
    for address in ("10.0.0.1", "169.254.169.254", "fe80::1", "fec0::1", "2002:a00:1::", "192.0.0.1"):
        assert address_problem(address, LOCAL), address


def test_a_host_resolving_to_one_embedded_forbidden_address_is_refused_at_submit() -> None:
    with pytest.raises(InvalidCallbackUrl) as caught:
        check_callback_url("https://hooks.example.com/x", AWS, resolver("93.184.216.34", "2002:a9fe:a9fe::1"))
    assert caught.value.field == "callback_url" and "169.254.169.254" in caught.value.message


def test_the_registry_tables_parse_and_cover_what_python_calls_private() -> None:
    """Each entry is a valid network; every network Python's ``ipaddress`` treats as private is
    refused by the tables too (the tables are the rule, never looser than the standard library)."""
    rng = random.Random(SEED)
    private = [
        "0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/29",
        "192.0.0.170/31", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32", "::1/128", "::/128", "::ffff:0:0/96",
        "100::/64", "2001::/23", "2001:db8::/32", "2001:10::/28", "fc00::/7", "fe80::/10",
    ]  # fmt: skip
    for network in private:
        for address in _random_in(network, rng, n=5):
            if ipaddress.ip_address(address).is_private:
                assert address_problem(address, AWS), address
