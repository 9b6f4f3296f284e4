"""The safe fetcher against a real HTTP server on 127.0.0.1: conditional GET, errors, limits, and
address checks on every hop (after DNS, before connecting)."""

from __future__ import annotations

import ipaddress
import json
import shutil
import ssl
import subprocess
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from feedkit import (
    FeedServer,
    Static,
    big,
    drip,
    echo,
    free_loopback_alias,
    gzip_bomb,
    items,
    redirect,
    rss,
    send,
    slow,
    status,
)

from pipeline.io.http import FetchError, FetchPolicy, address_refusal, fetch

LOOPBACK_ONLY = (ipaddress.ip_network("127.0.0.1/32"),)
POLICY = FetchPolicy(allowed_networks=LOOPBACK_ONLY, connect_timeout=2, read_timeout=2, total_timeout=10)
FEED = rss(items(count=2))


@pytest.fixture(scope="module")
def server():
    srv = FeedServer().start()
    srv.routes.update({
        "/feed.xml": Static(FEED, etag='"abc"', last_modified="Sun, 24 Sep 2023 10:00:00 GMT"),
        "/500": status(500),
        "/slow": slow(3.0),
        "/drip": drip(0.2),
        "/big-declared": big(300_000, declare=True),
        "/big-streamed": big(300_000, declare=False),
        "/exact": big(1000, declare=False),
        "/gzip-bomb": gzip_bomb(5_000_000),
        "/loop-a": redirect("/loop-b"),
        "/loop-b": redirect("/loop-a", 301),
        "/echo": echo,
        "/to-echo": redirect("/echo", 307),
        "/to-file": redirect("file:///etc/passwd"),
    })
    for n in range(10):
        srv.routes[f"/chain{n}"] = redirect(f"/chain{n + 1}")
    srv.routes["/chain10"] = echo
    yield srv
    srv.stop()


def _reason(url: str, policy: FetchPolicy = POLICY, **kw) -> str:
    with pytest.raises(FetchError) as caught:
        fetch(url, policy, **kw)
    return caught.value.reason


def test_fetch_then_conditional_get_gives_304(server: FeedServer) -> None:
    first = fetch(server.url("/feed.xml"), POLICY)
    assert first.status == 200 and first.body == FEED
    assert first.etag == '"abc"' and first.last_modified == "Sun, 24 Sep 2023 10:00:00 GMT"
    again = fetch(server.url("/feed.xml"), POLICY, etag=first.etag)
    assert again.not_modified and again.body == b""
    assert server.hits("/feed.xml")[-1].headers["if-none-match"] == '"abc"'
    by_date = fetch(server.url("/feed.xml"), POLICY, last_modified=first.last_modified)
    assert by_date.status == 304
    assert server.hits("/feed.xml")[-1].headers["if-modified-since"] == first.last_modified
    assert fetch(server.url("/feed.xml"), POLICY, etag='"old"').status == 200


def test_server_error_is_typed(server: FeedServer) -> None:
    assert _reason(server.url("/500")) == "http_500"
    assert _reason(server.url("/missing")) == "http_404"


def test_slow_response_times_out(server: FeedServer) -> None:
    t0 = time.monotonic()
    assert _reason(server.url("/slow"), FetchPolicy(allowed_networks=LOOPBACK_ONLY, read_timeout=0.5)) == "timeout"
    assert time.monotonic() - t0 < 2.5


def test_slow_drip_hits_the_total_deadline(server: FeedServer) -> None:
    t0 = time.monotonic()
    policy = FetchPolicy(allowed_networks=LOOPBACK_ONLY, read_timeout=1.0, total_timeout=1.0)
    assert _reason(server.url("/drip"), policy) == "timeout"
    assert time.monotonic() - t0 < 2.5


@pytest.mark.parametrize("path", ["/big-declared", "/big-streamed", "/gzip-bomb"])
def test_body_over_the_cap_is_too_large(server: FeedServer, path: str) -> None:
    policy = FetchPolicy(allowed_networks=LOOPBACK_ONLY, max_bytes=100_000)
    assert _reason(server.url(path), policy) == "too_large"


def test_body_at_the_cap_is_fine(server: FeedServer) -> None:
    assert fetch(server.url("/exact"), FetchPolicy(allowed_networks=LOOPBACK_ONLY, max_bytes=1000)).body == b"x" * 1000


def test_redirect_loop_and_redirect_cap(server: FeedServer) -> None:
    assert _reason(server.url("/loop-a")) == "redirect_loop"
    assert _reason(server.url("/chain0")) == "too_many_redirects"
    ok = fetch(server.url("/chain6"), FetchPolicy(allowed_networks=LOOPBACK_ONLY, max_redirects=4))
    assert ok.url == server.url("/chain10") and len(ok.redirects) == 4
    assert _reason(server.url("/chain6"), FetchPolicy(allowed_networks=LOOPBACK_ONLY, max_redirects=3)) == (
        "too_many_redirects"
    )


def test_redirect_to_another_scheme_is_refused(server: FeedServer) -> None:
    assert _reason(server.url("/to-file")) == "bad_scheme"
    assert _reason("ftp://127.0.0.1/feed.xml") == "bad_scheme"
    assert _reason("file:///etc/passwd") == "bad_scheme"
    assert _reason("http://user:secret@127.0.0.1/") == "bad_url"


def test_loopback_is_refused_by_default_without_connecting(server: FeedServer) -> None:
    before = len(server.requests)
    assert _reason(server.url("/feed.xml"), FetchPolicy()) == "blocked_address"
    assert len(server.requests) == before


@pytest.mark.parametrize("target", ["http://10.0.0.1/feed.xml", "http://[::1]:{port}/feed.xml",
                                    "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0:{port}/feed.xml",
                                    "http://[::ffff:127.0.0.1]:{port}/feed.xml"])
def test_redirect_to_a_private_address_is_refused(server: FeedServer, target: str) -> None:
    server.routes["/go-private"] = redirect(target.format(port=server.port))
    t0 = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch(server.url("/go-private"), POLICY)
    assert caught.value.reason == "blocked_address"
    assert time.monotonic() - t0 < 1.5  # refused before any connection attempt (10.0.0.1 would hang)


def test_redirect_to_another_loopback_address_never_reaches_it(server: FeedServer) -> None:
    alias = free_loopback_alias()
    if alias is None:
        pytest.skip("127.0.0.2 is not routed to loopback on this host")
    other = FeedServer(host=alias).start()
    try:
        other.routes["/feed.xml"] = Static(FEED)
        server.routes["/go-alias"] = redirect(other.url("/feed.xml"))
        assert fetch(other.url("/feed.xml"), FetchPolicy(allow_private_networks=True)).status == 200  # it is up
        seen = len(other.requests)
        assert _reason(server.url("/go-alias")) == "blocked_address"
        assert len(other.requests) == seen  # the first hop was allowed, the second never connected
    finally:
        other.stop()


def test_address_classes() -> None:
    strict = FetchPolicy()
    refused = {
        "127.0.0.1": "loopback", "10.1.2.3": "private", "192.168.1.1": "private", "172.16.0.1": "private",
        "169.254.169.254": "cloud metadata", "fd00:ec2::254": "cloud metadata", "::1": "loopback",
        "fe80::1": "link-local", "224.0.0.1": "multicast", "0.0.0.0": "unspecified", "240.0.0.1": "reserved",
        "100.64.0.1": "non-global", "::ffff:127.0.0.1": "loopback", "64:ff9b::a00:1": "private",
        "2002:7f00:1::": "loopback", "fc00::1": "private",
    }
    for address, why in refused.items():
        got = address_refusal(address, strict)
        assert got is not None, address
        assert why in got or got in ("private", "reserved"), (address, got)
    for public in ("93.184.216.34", "2606:4700:4700::1111", "8.8.8.8"):
        assert address_refusal(public, strict) is None, public
    lenient = FetchPolicy(allow_private_networks=True)
    assert address_refusal("10.0.0.1", lenient) is None and address_refusal("127.0.0.1", lenient) is None
    assert address_refusal("169.254.169.254", lenient) == "cloud metadata"
    assert address_refusal("fd00:ec2::254", lenient) == "cloud metadata"
    explicit = FetchPolicy(allowed_networks=(ipaddress.ip_network("169.254.169.254/32"),))
    assert address_refusal("169.254.169.254", explicit) is None
    assert address_refusal("127.0.0.2", FetchPolicy(allowed_networks=LOOPBACK_ONLY)) == "loopback"


def test_resolved_once_and_connected_to_the_checked_address(server: FeedServer) -> None:
    """DNS rebinding: the name resolves to an allowed address for the check and to a private one
    afterwards; the connection must use the checked answer and send the name as Host."""
    answers = [["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]]
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[len(calls) - 1]

    got = fetch(f"http://feeds.test:{server.port}/echo", POLICY, resolver=resolver)
    assert calls == ["feeds.test"]
    assert json.loads(got.body)["host"] == f"feeds.test:{server.port}"


def test_a_name_resolving_to_a_refused_address_is_refused(server: FeedServer) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(f"http://evil.test:{server.port}/echo", POLICY, resolver=lambda h, p: ["10.0.0.7"])
    assert caught.value.reason == "blocked_address" and "10.0.0.7" in str(caught.value)


def test_only_the_allowed_answer_of_a_mixed_dns_reply_is_used(server: FeedServer) -> None:
    """A reply with a refused and an allowed address: the refused one is never connected to, even
    when something listens there on the same port."""
    alias = free_loopback_alias()
    if alias is None:
        pytest.skip("127.0.0.2 is not routed to loopback on this host")
    other = FeedServer(host=alias, port=server.port).start()
    try:
        other.routes["/echo"] = echo
        got = fetch(f"http://mixed.test:{server.port}/echo", POLICY, resolver=lambda h, p: [alias, "127.0.0.1"])
        assert json.loads(got.body)["host"] == f"mixed.test:{server.port}"
        assert other.requests == []
    finally:
        other.stop()


def test_credentials_do_not_follow_a_cross_host_redirect(server: FeedServer) -> None:
    resolver = lambda host, port: ["127.0.0.1"]
    secret = {"Authorization": "Bearer s3cret", "Cookie": "session=1"}
    server.routes["/to-other"] = redirect(f"http://other.test:{server.port}/echo")
    other = json.loads(fetch(f"http://feeds.test:{server.port}/to-other", POLICY, headers=secret, resolver=resolver).body)
    assert "authorization" not in other and "cookie" not in other
    assert other["host"] == f"other.test:{server.port}"
    same = json.loads(fetch(f"http://feeds.test:{server.port}/to-echo", POLICY, headers=secret, resolver=resolver).body)
    assert same["authorization"] == "Bearer s3cret" and same["cookie"] == "session=1"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    folder: Path = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=feeds.test", "-addext", "subjectAltName=DNS:feeds.test"],
        check=True, capture_output=True,
    )
    srv = FeedServer().start()
    srv._server.shutdown()
    srv._server.server_close()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), srv._server.RequestHandlerClass)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    srv._server, srv.port = httpd, httpd.server_address[1]
    srv.routes["/feed.xml"] = lambda h: send(h, 200, FEED, "application/rss+xml")
    client = ssl.create_default_context(cafile=str(cert))
    yield srv, client
    httpd.shutdown()
    httpd.server_close()


def test_https_keeps_the_host_name_for_sni_and_certificate(tls_server) -> None:
    srv, client = tls_server
    got = fetch(f"https://feeds.test:{srv.port}/feed.xml", POLICY, resolver=lambda h, p: ["127.0.0.1"],
                ssl_context=client)
    assert got.body == FEED
    # The certificate names feeds.test, not the address: verification is on.
    assert _reason(f"https://127.0.0.1:{srv.port}/feed.xml", ssl_context=client) == "tls_error"
