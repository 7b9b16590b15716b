"""A guarded HTTP GET for web_fetch: every hop's address is checked after DNS resolution, then pinned.

SSRF defence: the host of the URL and of every redirect is resolved here; if any address it resolves to is
private, loopback, link-local, multicast, reserved or unspecified, the fetch is refused (unless private addresses
are explicitly allowed). The connection then goes to the checked address itself (Host header and TLS SNI keep the
name), so a DNS answer that changes between the check and the connect cannot redirect it. Redirects are followed
by hand for the same reason. The body is streamed and cut at a byte limit.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from assistant.errors import ToolError

__all__ = ["FetchedPage", "address_refused", "guarded_get"]

MAX_REDIRECTS = 5
USER_AGENT = "teamclaw/0.1 (+web_fetch)"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class FetchedPage:
    url: str  # the final URL after redirects
    status: int
    content_type: str
    charset: str | None
    body: bytes
    truncated: bool


def address_refused(ip: IPAddress) -> str | None:
    """Why this address may not be fetched, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        (ip.is_loopback, "loopback"), (ip.is_link_local, "link-local"), (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"), (ip.is_reserved, "reserved"), (ip.is_private, "private"),
        (not ip.is_global, "not public"),
    )
    for hit, label in checks:
        if hit:
            return label
    return None


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ToolError(f"cannot resolve {host!r}: {exc.strerror}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise ToolError(f"{host!r} has no address")
    return addresses


def _allowed_networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
    except ValueError as exc:
        raise ToolError(f"tools.web_fetch_allow_networks has an invalid network: {exc}") from exc


async def _checked_address(url: httpx.URL, allow_private: bool,
                           networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> IPAddress:
    if url.scheme not in ("http", "https"):
        raise ToolError(f"only http and https URLs can be fetched, not {url.scheme or 'a bare path'!r}")
    if not url.host:
        raise ToolError(f"{url} has no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await _resolve(url.host, port)
    if not allow_private:
        for ip in addresses:
            why = address_refused(ip)
            if why and not any(ip in net for net in networks):
                raise ToolError(f"refused: {url.host} resolves to {ip}, a {why} address; fetching internal "
                                "addresses is disabled (tools.web_fetch_allow_private)")
    return addresses[0]


def _pinned(url: httpx.URL, ip: IPAddress) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    host_header = url.host if url.port is None else f"{url.host}:{url.port}"
    if isinstance(ip, ipaddress.IPv6Address) and ":" in url.host:
        host_header = f"[{url.host}]" if url.port is None else f"[{url.host}]:{url.port}"
    headers = {"Host": host_header, "User-Agent": USER_AGENT, "Accept": "text/html,text/plain,*/*;q=0.5"}
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return url.copy_with(host=str(ip)), headers, extensions


async def guarded_get(url: str, *, max_bytes: int, timeout_s: float, allow_private: bool,
                      allow_networks: tuple[str, ...] = ()) -> FetchedPage:
    """GET ``url`` following up to five redirects, each hop checked; raises ``ToolError`` on refusal/failure.
    ``allow_networks`` are private networks allowed anyway (an intranet), as CIDR strings."""
    networks = _allowed_networks(allow_networks)
    try:
        current = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ToolError(f"{url!r} is not a valid URL") from exc
    try:
        async with asyncio.timeout(timeout_s), httpx.AsyncClient(
            trust_env=False, follow_redirects=False, timeout=timeout_s
        ) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                ip = await _checked_address(current, allow_private, networks)
                target, headers, extensions = _pinned(current, ip)
                request = client.build_request("GET", target, headers=headers, extensions=extensions)
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.is_redirect and location:
                        current = current.join(location)
                        continue
                    body, truncated = await _read_limited(response, max_bytes)
                    return FetchedPage(str(current), response.status_code,
                                       response.headers.get("content-type", "").split(";")[0].strip().lower(),
                                       response.charset_encoding, body, truncated)
                finally:
                    await response.aclose()
    except TimeoutError as exc:
        raise ToolError(f"{url} did not answer within {timeout_s:.0f} s") from exc
    except httpx.HTTPError as exc:
        raise ToolError(f"fetching {url} failed: {type(exc).__name__}") from exc
    raise ToolError(f"{url} redirected more than {MAX_REDIRECTS} times")


async def _read_limited(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False
