"""Safe HTTP(S) fetching for feeds and article pages: one GET that cannot be turned against us.

Every hop (the first request and each redirect, which we follow ourselves) is checked: the scheme
must be http or https; the host is resolved once, every resolved address is classified, and the
connection goes to an address that passed the check (so a DNS answer that changes between check and
connect, "DNS rebinding", cannot slip through), while the Host header and TLS SNI/certificate check
keep using the host name. Private, loopback, link-local, multicast, reserved, unspecified and cloud
metadata addresses are refused unless the policy allows them. Bodies are streamed and cut at a byte
cap, reads time out, the whole fetch has a deadline, redirects are capped and loops detected, and
Authorization/Cookie headers never follow a redirect to another origin. Failures raise `FetchError`
with a short machine-readable `reason` (it becomes the dead letter's reason).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pipeline import __version__

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> resolved addresses; the default asks the system resolver once per hop.
Resolver = Callable[[str, int], list[str]]

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# Instance-metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, ECS task, Alibaba): refused even
# when private networks are allowed; only an explicit `allowed_networks` entry lets one through.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
_CHUNK = 64 * 1024


class FetchError(Exception):
    """A fetch that did not produce a usable response; `reason` is a short code for dead letters."""

    def __init__(self, reason: str, detail: str, url: str = "") -> None:
        super().__init__(detail)
        self.reason = reason
        self.url = url


@dataclass(frozen=True)
class FetchPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    allow_private_networks: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    user_agent: str = f"newspipe/{__version__}"

    @classmethod
    def from_config(cls, feeds, max_bytes: int | None = None) -> FetchPolicy:  # type: ignore[no-untyped-def]
        """Policy from a `FeedsConfig`; `max_bytes` defaults to the feed cap (pages pass their own)."""
        return cls(
            connect_timeout=feeds.connect_timeout_seconds,
            read_timeout=feeds.read_timeout_seconds,
            total_timeout=feeds.total_timeout_seconds,
            max_bytes=feeds.max_feed_bytes if max_bytes is None else max_bytes,
            max_redirects=feeds.max_redirects,
            allow_private_networks=feeds.allow_private_networks,
            allowed_networks=tuple(ipaddress.ip_network(c, strict=False) for c in feeds.allowed_networks),
            user_agent=feeds.user_agent or f"newspipe/{__version__}",
        )


@dataclass(frozen=True)
class FetchResult:
    url: str  # final URL, after redirects
    status: int  # 2xx, or 304 for a conditional GET whose resource did not change
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""
    redirects: tuple[str, ...] = ()

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str:
        return self.headers.get("etag", "")

    @property
    def last_modified(self) -> str:
        return self.headers.get("last-modified", "")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def _embedded(ip: IPAddress) -> Iterable[IPAddress]:
    """The address itself plus any IPv4 address tunnelled inside an IPv6 one."""
    yield ip
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if inner is not None:
                yield inner
        if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 well-known prefix
            yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def _kind(ip: IPAddress) -> str | None:
    """Why an address is not a public unicast address, or None when it is."""
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    for name in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    if not ip.is_global:  # shared address space 100.64/10, documentation ranges, ...
        return "non-global"
    return None


def address_refusal(address: str, policy: FetchPolicy) -> str | None:
    """Why `policy` refuses to connect to `address` (e.g. "loopback"), or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if any(ip in net for net in policy.allowed_networks if net.version == ip.version):
        return None
    for candidate in _embedded(ip):
        why = _kind(candidate)
        if why is None:
            continue
        if why == "cloud metadata" or not policy.allow_private_networks:
            return why
    return None


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for *_, sockaddr in infos:
        if sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    return seen


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a checked IP; Host header stays the URL's host."""

    def __init__(self, host: str, port: int, address: str, connect_timeout: float) -> None:
        super().__init__(host, port, timeout=connect_timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to a checked IP; SNI and certificate verification use the URL's host name."""

    def __init__(self, host: str, port: int, address: str, connect_timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=connect_timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host.lower(), self.port


def _target(url: str) -> _Target:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError("bad_url", f"not a valid URL ({exc})", url) from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise FetchError("bad_scheme", f"scheme {scheme or '(none)'!r} is not allowed (only http, https)", url)
    if not parts.hostname:
        raise FetchError("bad_url", "URL has no host", url)
    if parts.username or parts.password:
        raise FetchError("bad_url", "credentials in URLs are not sent; remove user:password@", url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(url, scheme, parts.hostname, port or DEFAULT_PORTS[scheme], path)


def _remaining(deadline: float, url: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError("timeout", "the fetch took longer than its total time limit", url)
    return left


def _open(target: _Target, policy: FetchPolicy, resolver: Resolver, context: ssl.SSLContext | None,
          deadline: float) -> http.client.HTTPConnection:
    try:
        addresses = resolver(target.host, target.port)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise FetchError("dns_failed", f"cannot resolve {target.host} ({exc})", target.url) from None
    allowed, refused = [], []
    for address in addresses:
        why = address_refusal(address, policy)
        (refused.append(f"{address} ({why})") if why else allowed.append(address))
    if not allowed:
        shown = ", ".join(refused) or "no address"
        raise FetchError(
            "blocked_address",
            f"{target.host} resolves to {shown}; refused (feeds.allow_private_networks / feeds.allowed_networks)",
            target.url,
        )
    last: Exception | None = None
    for address in allowed:
        timeout = min(policy.connect_timeout, _remaining(deadline, target.url))
        if target.scheme == "https":
            conn: http.client.HTTPConnection = _PinnedHTTPSConnection(
                target.host, target.port, address, timeout, context or ssl.create_default_context()
            )
        else:
            conn = _PinnedHTTPConnection(target.host, target.port, address, timeout)
        try:
            conn.connect()
            return conn
        except ssl.SSLError as exc:
            conn.close()
            raise FetchError("tls_error", f"TLS with {target.host} failed ({exc.reason or exc})", target.url) from None
        except TimeoutError:
            conn.close()
            last = FetchError("timeout", f"connecting to {target.host} timed out", target.url)
        except OSError as exc:
            conn.close()
            last = FetchError("connect_failed", f"cannot connect to {target.host} ({exc.strerror or exc})", target.url)
    assert last is not None
    raise last


def _read_body(resp: http.client.HTTPResponse, conn: http.client.HTTPConnection, policy: FetchPolicy,
               deadline: float, url: str) -> bytes:
    declared = resp.getheader("content-length")
    if declared and declared.strip().isdigit() and int(declared) > policy.max_bytes:
        raise FetchError("too_large", f"response declares {int(declared)} bytes, over the cap of {policy.max_bytes}", url)
    body = bytearray()
    while True:
        if conn.sock is not None:
            conn.sock.settimeout(min(policy.read_timeout, _remaining(deadline, url)))
        chunk = resp.read1(_CHUNK)  # what has arrived: a slow drip must not hide behind one long read
        if not chunk:
            break
        body += chunk
        if len(body) > policy.max_bytes:
            raise FetchError("too_large", f"response is over the cap of {policy.max_bytes} bytes", url)
    encoding = (resp.getheader("content-encoding") or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        from pipeline.lib.decode import BadInput, gunzip

        try:
            return gunzip(bytes(body), policy.max_bytes)
        except BadInput as exc:
            raise FetchError(exc.reason, str(exc), url) from None
    if encoding not in ("identity", ""):
        raise FetchError("bad_response", f"unsupported content-encoding {encoding!r}", url)
    return bytes(body)


def fetch(
    url: str,
    policy: FetchPolicy,
    *,
    etag: str = "",
    last_modified: str = "",
    headers: Mapping[str, str] | None = None,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> FetchResult:
    """GET `url` under `policy`, following redirects ourselves. `etag`/`last_modified` make it a
    conditional GET: an unchanged resource returns status 304 and an empty body.

    Raises FetchError(reason) for: bad_url, bad_scheme, dns_failed, blocked_address, connect_failed,
    tls_error, timeout, too_large, redirect_loop, too_many_redirects, bad_response, http_<status>.
    """
    resolver = resolver or system_resolver
    deadline = time.monotonic() + policy.total_timeout
    sent: dict[str, str] = {
        "User-Agent": policy.user_agent,
        "Accept": "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
                  "text/xml;q=0.9, application/json;q=0.8, text/html;q=0.7, */*;q=0.5",
        "Accept-Encoding": "gzip, identity",
        "Connection": "close",
    }
    if etag:
        sent["If-None-Match"] = etag
    if last_modified:
        sent["If-Modified-Since"] = last_modified
    sent.update(headers or {})
    target = _target(url)
    visited = [target.url]
    for _hop in range(policy.max_redirects + 1):
        conn = _open(target, policy, resolver, ssl_context, deadline)
        try:
            assert conn.sock is not None
            conn.sock.settimeout(min(policy.read_timeout, _remaining(deadline, target.url)))
            try:
                conn.request("GET", target.path, headers=sent)
                resp = conn.getresponse()
                status = resp.status
                got = {k.lower(): v for k, v in resp.getheaders()}
                if status in REDIRECT_STATUSES and got.get("location"):
                    location = urllib.parse.urljoin(target.url, got["location"].strip())
                    following = _target(location)
                    if following.url in visited:
                        raise FetchError("redirect_loop", f"redirect back to {following.url}", url)
                    if following.origin != target.origin:
                        # Credentials were meant for the origin the caller named, not wherever it points.
                        sent = {k: v for k, v in sent.items() if k.lower() not in CREDENTIAL_HEADERS}
                    visited.append(following.url)
                    target = following
                    continue
                if status == 304:
                    return FetchResult(target.url, 304, got, b"", tuple(visited[1:]))
                if not 200 <= status < 300:
                    raise FetchError(f"http_{status}", f"server answered {status} {resp.reason}", target.url)
                body = _read_body(resp, conn, policy, deadline, target.url)
                return FetchResult(target.url, status, got, body, tuple(visited[1:]))
            except TimeoutError:
                raise FetchError("timeout", f"no data from {target.host} within {policy.read_timeout}s", target.url) from None
            except ssl.SSLError as exc:
                raise FetchError("tls_error", f"TLS with {target.host} failed ({exc})", target.url) from None
            except (http.client.HTTPException, ConnectionError) as exc:
                raise FetchError("bad_response", f"{type(exc).__name__}: {exc}", target.url) from None
        finally:
            conn.close()
    raise FetchError("too_many_redirects", f"more than {policy.max_redirects} redirects", url)
