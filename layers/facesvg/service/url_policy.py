"""Which callback URLs the service POSTs to: HTTPS, no credentials, a request line that can be sent,
and only public addresses — decided by the IANA special-purpose registries and by any IPv4 address
an IPv6 address embeds, not by Python's ``ipaddress`` flags alone (they call 6to4 forms of loopback,
site-local ``fec0::/10`` and ``192.0.0.9`` global).

Checked at submit (a refusal is ``400 InvalidCallbackUrl`` naming ``callback_url``) and again at
each delivery, which connects to the very addresses checked here (no second DNS lookup to rebind).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

from facesvg.service.errors import InvalidCallbackUrl

MAX_URL_LENGTH = 2048

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnresolvableHost(InvalidCallbackUrl):
    """The host did not resolve (or not in time): a 400 at submit, a retry at delivery (DNS
    failures pass)."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


_dns_pool: ThreadPoolExecutor | None = None
_dns_pool_lock = threading.Lock()


def resolving_within(resolve: Resolver, seconds: float) -> Resolver:
    """``resolve`` given at most ``seconds`` (``getaddrinfo`` takes no timeout: it runs on a small
    process-wide pool and is abandoned when late; ``TimeoutError`` then)."""

    def bounded(host: str, port: int) -> list[str]:
        global _dns_pool
        with _dns_pool_lock:
            if _dns_pool is None:
                _dns_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="facesvg-io-dns")
        future = _dns_pool.submit(resolve, host, port)
        try:
            return future.result(timeout=max(seconds, 0.0))
        except FuturesTimeout:
            future.cancel()
            raise TimeoutError(f"DNS gave no answer within {seconds:.1f} s") from None

    return bounded


@dataclass(frozen=True)
class UrlPolicy:
    allow_http: bool = False  # plain HTTP (the local stack)
    allow_loopback: bool = False  # 127.0.0.0/8 and ::1 (the local stack); never private or link-local


@dataclass(frozen=True)
class SafeUrl:
    url: str
    scheme: str
    host: str
    port: int
    target: str  # path + query: the request line's target (printable ASCII)
    addresses: tuple[str, ...]  # checked addresses; delivery connects to these only
    host_header: str = ""  # ``host[:port]`` as the URL wrote it (brackets kept for IPv6)


# ------------------------------------------------------------------ the special-purpose registries


class Special(NamedTuple):
    network: str
    name: str
    globally_reachable: bool | None  # None: "N/A" in the registry (decided by what it embeds)


# IANA IPv4 Special-Purpose Address Registry (RFC 6890 and its updates), as of 2025:
# https://www.iana.org/assignments/iana-ipv4-special-registry/ — "Globally Reachable" column.
IPV4_SPECIAL: tuple[Special, ...] = (
    Special("0.0.0.0/8", 'a "this network" address', False),
    Special("0.0.0.0/32", 'the "this host on this network" address', False),
    Special("10.0.0.0/8", "a private address", False),
    Special("100.64.0.0/10", "a non-public shared address (CGNAT, 100.64.0.0/10)", False),
    Special("127.0.0.0/8", "a loopback address", False),
    Special("169.254.0.0/16", "a link-local address (169.254.0.0/16: instance metadata)", False),
    Special("172.16.0.0/12", "a private address", False),
    # The /24 is "not globally reachable unless a more specific entry says so"; the two anycast
    # entries that do (PCP 192.0.0.9, TURN 192.0.0.10) are service anycast, never a webhook
    # receiver, so the whole /24 is refused.
    Special("192.0.0.0/24", "an IETF protocol assignment (192.0.0.0/24)", False),
    Special("192.0.0.0/29", "an IPv4 service continuity address", False),
    Special("192.0.0.8/32", "the IPv4 dummy address", False),
    Special("192.0.0.170/31", "a NAT64/DNS64 discovery address", False),
    Special("192.0.2.0/24", "a documentation address (TEST-NET-1)", False),
    Special("192.31.196.0/24", "AS112-v4", True),
    Special("192.52.193.0/24", "AMT", True),
    Special("192.88.99.0/24", "the deprecated 6to4 relay anycast address", False),
    Special("192.168.0.0/16", "a private address", False),
    Special("192.175.48.0/24", "direct delegation AS112 service", True),
    Special("198.18.0.0/15", "a benchmarking address", False),
    Special("198.51.100.0/24", "a documentation address (TEST-NET-2)", False),
    Special("203.0.113.0/24", "a documentation address (TEST-NET-3)", False),
    Special("240.0.0.0/4", "a reserved address", False),
    Special("255.255.255.255/32", "the limited broadcast address", False),
)

# IANA IPv6 Special-Purpose Address Registry (RFC 6890 and its updates), as of 2025:
# https://www.iana.org/assignments/iana-ipv6-special-registry/ — plus two deprecated blocks the
# registry no longer lists but stacks still route: site-local fec0::/10 (RFC 3879) and
# IPv4-compatible ::/96 (RFC 4291 §2.5.5.1).
IPV6_SPECIAL: tuple[Special, ...] = (
    Special("::1/128", "a loopback address", False),
    Special("::/128", "the unspecified address", False),
    Special("::/96", "an IPv4-compatible address (deprecated)", None),
    Special("::ffff:0:0/96", "an IPv4-mapped address", None),
    Special("::ffff:0:0:0/96", "an IPv4-translated address", None),
    Special("64:ff9b::/96", "a NAT64 address", None),
    Special("64:ff9b:1::/48", "a local-use NAT64 address", False),
    Special("100::/64", "a discard-only address", False),
    Special("100:0:0:1::/64", "an address of the dummy IPv6 prefix", False),
    Special("2001::/23", "an IETF protocol assignment (2001::/23)", False),
    Special("2001::/32", "a Teredo address", None),  # refused with 2001::/23, named by what it embeds
    Special("2001:1::1/128", "port control protocol anycast", True),
    Special("2001:1::2/128", "TURN anycast", True),
    Special("2001:1::3/128", "DNS-SD service registration protocol anycast", True),
    Special("2001:2::/48", "a benchmarking address", False),
    Special("2001:3::/32", "AMT", True),
    Special("2001:4:112::/48", "AS112-v6", True),
    Special("2001:10::/28", "a deprecated ORCHID address", False),
    Special("2001:20::/28", "ORCHIDv2", True),
    Special("2001:30::/28", "drone remote ID (DET)", True),
    Special("2001:db8::/32", "a documentation address", False),
    Special("2002::/16", "a 6to4 address", None),
    Special("2620:4f:8000::/48", "direct delegation AS112 service", True),
    Special("3fff::/20", "a documentation address", False),
    Special("5f00::/16", "a segment routing (SRv6) SID address", False),
    Special("fc00::/7", "a unique-local (private) address", False),
    Special("fe80::/10", "a link-local address (fe80::/10)", False),
    Special("fec0::/10", "a site-local address (deprecated)", False),
)

_SPECIAL: dict[int, list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Special]]] = {4: [], 6: []}
for _entry in IPV4_SPECIAL + IPV6_SPECIAL:
    _net = ipaddress.ip_network(_entry.network)
    _SPECIAL[_net.version].append((_net, _entry))
for _entries in _SPECIAL.values():  # most specific first: the longest matching prefix decides
    _entries.sort(key=lambda e: -e[0].prefixlen)

_NETS = {
    "mapped": ipaddress.ip_network("::ffff:0:0/96"),
    "translated": ipaddress.ip_network("::ffff:0:0:0/96"),
    "compatible": ipaddress.ip_network("::/96"),
    "nat64": ipaddress.ip_network("64:ff9b::/96"),
}
_IPV4_MULTICAST = ipaddress.ip_network("224.0.0.0/4")
_IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")  # all else is unallocated or special
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def special_entries(ip: IPAddress) -> list[Special]:
    """The registry entries containing ``ip``, the most specific first."""
    return [entry for network, entry in _SPECIAL[ip.version] if ip in network]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for: mapped, translated, compatible, NAT64
    (RFC 6052 /96), 6to4 (RFC 3056) and both ends of Teredo (RFC 4380: server and client)."""
    value = int(ip)
    low32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if ip in _NETS["mapped"] or ip in _NETS["translated"] or ip in _NETS["nat64"]:
        return [low32]
    if ip in _NETS["compatible"] and value > 1:
        return [low32]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    return []


def address_problem(address: str, policy: UrlPolicy) -> str | None:
    """Why a delivery must not connect to ``address`` (None: it may)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return "an unparseable address"
    if policy.allow_loopback and any(ip in net for net in _LOOPBACK):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        for v4 in inner:
            problem = address_problem(str(v4), policy)
            if problem:
                return f"{ip}, which embeds {v4}: {problem}"
    entries = special_entries(ip)
    # Inside a block that is not globally reachable, nothing is, whatever a more specific entry
    # says (2001::/23 holds Teredo, ORCHIDv2 and anycast entries: none of them a webhook receiver).
    refusing = next((e for e in entries if e.globally_reachable is False), None)
    if refusing is not None:
        return refusing.name
    if isinstance(ip, ipaddress.IPv4Address):
        if ip in _IPV4_MULTICAST:
            return "a multicast address"
        return None if ip.is_global else "a non-public address"
    if entries and entries[0].globally_reachable is None:
        if ip in _NETS["compatible"]:  # public inside, but no stack routes the deprecated form
            return entries[0].name
        return None  # an embedding form (mapped, NAT64, 6to4) whose IPv4 passed above
    if ip not in _IPV6_GLOBAL_UNICAST:
        return "not a global unicast address (multicast, reserved or unallocated)"
    return None


# -------------------------------------------------------------------------------------- the URL


def _request_line_problem(url: str) -> str | None:
    """Everything of a URL ends up in a request line or a Host header: printable ASCII only."""
    for c in url:
        if c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F:
            return "whitespace or control characters"
        if ord(c) > 0x7E:
            return (
                f"the non-ASCII character {c!r} (percent-encode the path and query, RFC 3986, and "
                "write an internationalised host name in its xn-- form)"
            )
    return None


def check_callback_url(url: str, policy: UrlPolicy, resolve: Resolver = resolve_host) -> SafeUrl:
    """The URL, parsed and with its checked addresses; ``InvalidCallbackUrl`` when it is refused."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidCallbackUrl(f"callback_url is longer than {MAX_URL_LENGTH} characters")
    bad_characters = _request_line_problem(url)
    if bad_characters:
        raise InvalidCallbackUrl(f"callback_url contains {bad_characters}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidCallbackUrl(f"callback_url is not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and policy.allow_http):
        raise InvalidCallbackUrl("callback_url must be an https:// URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidCallbackUrl("callback_url must not contain credentials (user:password@)")
    host = parts.hostname
    if not host:
        raise InvalidCallbackUrl("callback_url has no host")
    if port == 0:
        raise InvalidCallbackUrl("callback_url has port 0")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnresolvableHost(f"callback_url host {host!r} does not resolve") from exc
    if not addresses:
        raise UnresolvableHost(f"callback_url host {host!r} does not resolve")
    for address in addresses:
        problem = address_problem(address, policy)
        if problem:
            raise InvalidCallbackUrl(f"callback_url host {host!r} resolves to {problem}, which is refused")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return SafeUrl(url, scheme, host, port, target, tuple(addresses), parts.netloc)
