"""Thumbnail fetching: SSRF guard, pinned addresses, bounded redirects, size/type limits, concurrency, cache.

DNS rebinding: the host is resolved once, every address is checked, and the request goes to the checked IP
(the URL's host is rewritten to it) with the original ``Host`` header; for https the TLS SNI and certificate
check use the original name through httpx's ``sni_hostname`` request extension. So no second lookup can
swap in an internal address between the check and the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urljoin

import httpx

from filter_proxy.images_policy import ImagePolicy

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]  # (host, port) -> IP address strings
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECTS = (301, 302, 303, 307, 308)
K = TypeVar("K")
V = TypeVar("V")


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix: the last 32 bits are IPv4
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use translation prefix
_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible ::a.b.c.d (and :: / ::1)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """(kind, IPv4) when ``ip`` carries an IPv4 address that a relay, translator or dual stack would reach:
    IPv4-mapped, NAT64, IPv4-compatible, 6to4 or Teredo. ``2002:a00:1::1`` is 10.0.0.1 over 6to4."""
    if ip.ipv4_mapped is not None:
        return "ipv4-mapped", ip.ipv4_mapped
    if ip in _NAT64:
        return "nat64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _COMPATIBLE and int(ip) > 1:
        return "ipv4-compatible", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    if ip.teredo is not None:
        return "teredo", ip.teredo[1]  # (server, client): the client is the host behind the tunnel
    return None


def address_refusal(address: str, allow_networks: Iterable[str] = ()) -> str | None:
    """Why a thumbnail may not be fetched from ``address``, or None when it may (the guard's decision).

    IPv6 forms that embed an IPv4 address are judged by it: mapped and NAT64 addresses are that IPv4 host
    (``allow_networks`` applies to it), 6to4, Teredo and the local-use NAT64 prefix are tunnels or
    translators into networks we cannot see, so they are refused outright, as are IPv4-compatible ones
    (deprecated since 2006; nothing legitimate serves thumbnails there)."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return f"not an IP address: {address!r}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return "local-use NAT64 address"
        embedded = embedded_ipv4(ip)
        if embedded is not None:
            kind, inner = embedded
            if kind in ("6to4", "teredo", "ipv4-compatible"):
                return f"{kind} address (embeds {inner})"
            ip = inner  # ::ffff:10.0.0.1 and 64:ff9b::a00:1 are 10.0.0.1
    for cidr in allow_networks:
        net = ipaddress.ip_network(cidr, strict=False)
        if ip.version == net.version and ip in net:
            return None
    for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return f"{kind.replace('_', '-')} address"
    if not ip.is_global:  # shared address space (100.64/10), documentation ranges, ...
        return "non-global address"
    return None


@dataclass(frozen=True, slots=True)
class FetchResult:
    outcome: str  # "fetched" | "refused" | "timeout" | "too-large" | "bad-type" | "error"
    data: bytes | None = None
    reason: str = ""
    url: str = ""  # the final URL after redirects


class TTLCache(Generic[K, V]):
    """A bounded LRU map whose entries expire after ``ttl`` seconds."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size, self.ttl, self.clock = size, ttl, clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] < self.clock():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return item[1]

    def put(self, key: K, value: V) -> None:
        self._items[key] = (self.clock() + self.ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class Refused(Exception):
    pass


class ThumbnailFetcher:
    """Fetches thumbnails on one shared httpx.AsyncClient under the policy's limits."""

    def __init__(self, policy: ImagePolicy, client: httpx.AsyncClient | None = None,
                 resolver: Resolver | None = None) -> None:
        self.policy = policy
        self._own_client = client is None
        # trust_env=False: an environment proxy would connect on our behalf and bypass the address pin
        self.client = client or httpx.AsyncClient(trust_env=False, follow_redirects=False,
                                                  timeout=policy.fetch_timeout)
        self.resolver = resolver or system_resolver
        self._slots = asyncio.Semaphore(policy.concurrency)

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    async def fetch(self, url: str) -> FetchResult:
        """Never raises for network trouble: the outcome says what happened."""
        async with self._slots:
            try:
                async with asyncio.timeout(self.policy.fetch_timeout):
                    return await self._fetch(url)
            except (TimeoutError, httpx.TimeoutException):
                return FetchResult("timeout", reason="fetch timed out", url=url)
            except Refused as exc:
                return FetchResult("refused", reason=str(exc), url=url)
            except (httpx.HTTPError, OSError, ValueError) as exc:
                return FetchResult("error", reason=type(exc).__name__, url=url)

    async def pin(self, url: str) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
        """Check ``url`` and return (URL with the host replaced by a checked IP, headers, extensions).
        Raises Refused before any connection is attempted."""
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https"):
            raise Refused(f"scheme {parsed.scheme!r} is not http or https")
        host = parsed.host
        if not host:
            raise Refused("URL has no host")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses = [str(ipaddress.ip_address(host))]  # an IP literal needs no lookup
        except ValueError:
            try:
                addresses = list(await self.resolver(host, port))
            except OSError as exc:
                raise Refused(f"cannot resolve host: {type(exc).__name__}") from exc
        if not addresses:
            raise Refused("host has no address")
        for address in addresses:  # every address must pass, or a round-robin entry could slip through
            reason = address_refusal(address, self.policy.allow_networks)
            if reason:
                raise Refused(reason)
        ip = addresses[0]
        pinned = parsed.copy_with(host=ip)  # httpx brackets IPv6 hosts itself
        headers = {"Host": parsed.netloc.decode("ascii"), "Accept": "image/*", "Accept-Encoding": "identity"}
        extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
        return pinned, headers, extensions

    async def _fetch(self, url: str) -> FetchResult:
        current = url
        for _ in range(self.policy.max_redirects + 1):
            target, headers, extensions = await self.pin(current)
            request = self.client.build_request("GET", target, headers=headers, extensions=extensions)
            response = await self.client.send(request, stream=True, follow_redirects=False)
            try:
                if response.status_code in REDIRECTS and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                return await self._read(response, current)
            finally:
                await response.aclose()
        raise Refused(f"more than {self.policy.max_redirects} redirects")

    async def _read(self, response: httpx.Response, url: str) -> FetchResult:
        if response.status_code != 200:
            return FetchResult("error", reason=f"HTTP {response.status_code}", url=url)
        ctype = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if not ctype.startswith("image/"):
            return FetchResult("bad-type", reason=f"content type {ctype or 'missing'!r}", url=url)
        limit = self.policy.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return FetchResult("too-large", reason=f"declared {declared} bytes", url=url)
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():  # decoded bytes: a gzip bomb hits the limit too
            size += len(chunk)
            if size > limit:
                return FetchResult("too-large", reason=f"over {limit} bytes", url=url)
            chunks.append(chunk)
        return FetchResult("fetched", b"".join(chunks), url=url)
