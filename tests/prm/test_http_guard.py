"""prm.http: outbound calls connect to the address they checked.

The resolver is faked by replacing ``socket.getaddrinfo`` (the system's DNS client, not
our code) with a small DNS "server" that can answer differently each time, as a
rebinding name does; the "internet" beyond 127.0.0.1 is faked the same way at
``socket.create_connection``, so no test leaves the machine."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from prm import http

REFUSED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",  # multicast
    "233.252.0.1",  # multicast documentation
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "198.51.100.7",
    "203.0.113.9",
    "198.18.0.1",  # benchmarking
    "240.0.0.1",  # reserved
    "::1",
    "::",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "::8.8.8.8",  # IPv4-compatible, even of a public address (deprecated form)
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::808:808",  # local-use NAT64
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:db8::1",  # documentation
    "3fff::1",  # documentation (RFC 9637)
    "2001:2::1",  # benchmarking
    "fc00::1",  # unique local
    "fd12:3456::1",
    "fe80::1",  # link-local
    "fec0::1",  # site-local
    "ff02::1",  # multicast
    "ff0e::1",
    "100::1",  # discard
    "5f00::1",  # SRv6
]
ALLOWED = [
    "8.8.8.8",
    "93.184.215.14",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of a public address
    "2002:808:808::1",  # 6to4 of a public address
]


@pytest.mark.parametrize("address", REFUSED)
def test_it_refuses_a_non_public_address(address):
    assert not http.address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_it_allows_a_public_address(address):
    assert http.address_allowed(ipaddress.ip_address(address))


class _Recorder(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self.server.seen.append(self.headers.get("Host"))  # type: ignore[attr-defined]
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class FakeNetwork:
    """A DNS server whose answers change per query (a rebinding name) and an internet
    where only 127.0.0.1 answers; records what was looked up and connected to."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.queries: list[str] = []
        self.connected: list[str] = []
        real_getaddrinfo = socket.getaddrinfo
        real_connect = socket.create_connection

        def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
            if host not in self.answers:
                return real_getaddrinfo(host, port, *args, **kwargs)
            self.queries.append(host)
            queue = self.answers[host]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port, 0, 0) if ":" in a else (a, port),
                )
                for a in answer
            ]

        def create_connection(address, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.connected.append(address[0])
            if address[0] != "127.0.0.1":
                raise ConnectionRefusedError(f"(fake internet) {address[0]} refused")
            return real_connect(address, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket, "create_connection", create_connection)


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> FakeNetwork:
    return FakeNetwork(monkeypatch)


def test_a_rebinding_name_never_reaches_loopback(settings, net, loopback_server):
    settings.PRM_HTTP_ALLOW_PRIVATE = False
    port = loopback_server.server_port
    # Public to the first question, loopback to every later one.
    net.answers["rebind.test"] = [["93.184.215.14"], ["127.0.0.1"]]
    with pytest.raises(httpx.ConnectError):
        http.request("GET", f"http://rebind.test:{port}/")
    assert net.queries == ["rebind.test"]  # resolved once
    assert net.connected == ["93.184.215.14"]  # the checked address, not a new answer
    assert loopback_server.seen == []  # type: ignore[attr-defined]
    # The next call resolves again and is refused before connecting anywhere.
    with pytest.raises(http.BlockedAddress):
        http.request("GET", f"http://rebind.test:{port}/")
    assert net.connected == ["93.184.215.14"]
    assert loopback_server.seen == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1"], ["93.184.215.14", "127.0.0.1"], ["::ffff:127.0.0.1"], ["64:ff9b::7f00:1"]],
)
def test_every_resolved_address_is_checked(settings, net, loopback_server, answer):
    settings.PRM_HTTP_ALLOW_PRIVATE = False
    net.answers["mixed.test"] = [answer]
    with pytest.raises(http.BlockedAddress):
        http.request("GET", f"http://mixed.test:{loopback_server.server_port}/")
    assert net.connected == []


def test_a_literal_private_ip_is_refused(settings, net, loopback_server):
    settings.PRM_HTTP_ALLOW_PRIVATE = False
    with pytest.raises(http.BlockedAddress):
        http.request("GET", f"http://127.0.0.1:{loopback_server.server_port}/")
    with pytest.raises(http.BlockedAddress):
        http.request("GET", "http://[::ffff:7f00:1]:80/")
    assert net.connected == []


def test_an_unresolvable_name_is_a_connect_error(settings):
    settings.PRM_HTTP_ALLOW_PRIVATE = False
    with pytest.raises(http.UnresolvableHost):
        http.request("GET", "http://crm.invalid/")


def test_a_local_fake_works_pinned_with_its_host_header(settings, net, loopback_server):
    """PRM_HTTP_ALLOW_PRIVATE skips the check only: the name is still resolved once and
    the connection goes to that address, with the request's Host unchanged."""
    settings.PRM_HTTP_ALLOW_PRIVATE = True
    port = loopback_server.server_port
    net.answers["fake-crm.test"] = [["127.0.0.1"], ["10.9.9.9"]]
    response = http.request("GET", f"http://fake-crm.test:{port}/path")
    assert response.status_code == 200 and response.text == "hello"
    assert loopback_server.seen == [f"fake-crm.test:{port}"]  # type: ignore[attr-defined]
    assert net.queries == ["fake-crm.test"] and net.connected == ["127.0.0.1"]


def test_redirects_are_not_followed(settings, loopback_server):
    settings.PRM_HTTP_ALLOW_PRIVATE = True

    class Redirect(_Recorder):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    loopback_server.RequestHandlerClass = Redirect
    response = http.request("GET", f"http://127.0.0.1:{loopback_server.server_port}/")
    assert response.status_code == 302


def _self_signed(host: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def test_tls_is_about_the_name_not_the_pinned_ip(settings, net, tmp_path):
    """Connected to the pinned 127.0.0.1, the client still sends the host name as SNI
    and verifies the certificate (a self-signed one fails verification)."""
    settings.PRM_HTTP_ALLOW_PRIVATE = True
    cert, key = _self_signed("tls-crm.test")
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    sni: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: sni.append(name)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with context.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass  # the client refused our certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    net.answers["tls-crm.test"] = [["127.0.0.1"]]
    try:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            http.request("GET", f"https://tls-crm.test:{listener.getsockname()[1]}/")
    finally:
        thread.join(timeout=5)
        listener.close()
    assert sni == ["tls-crm.test"] and net.connected == ["127.0.0.1"]


def test_no_other_module_makes_its_own_http_client():
    """The guard holds only if nothing else opens connections: no httpx client or
    top-level call, requests, urllib or http.client outside prm/http.py."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    pattern = re.compile(
        r"httpx\.(Client|AsyncClient|HTTPTransport|get|post|put|patch|delete|request|stream)\("
        r"|^\s*import requests|^\s*from requests|urllib\.request|^\s*(import|from) http\.client"
        r"|urlopen\("
        r"|socket\.create_connection",
        re.M,
    )
    offenders = [
        source.relative_to(root).as_posix()
        for app in ("prm", "partners", "programs", "rewards", "antifraud", "integrations")
        for source in (root / app).rglob("*.py")
        if pattern.search(source.read_text())
    ]
    assert offenders == ["prm/http.py"], offenders
