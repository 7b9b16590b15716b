"""web_fetch against SSRF (private, loopback, link-local, metadata, IPv6, DNS names, redirects) and a real local
server; web_search against a SearXNG-style JSON stand-in."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from assistant.config import Config
from tests.standins.tool_world import member, open_world

PAGE = """<html><head><title>Release notes</title><style>body{color:red}</style>
<script>var token = "do-not-show";</script></head>
<body><nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<h1>Version 2.0</h1><p>Faster   sync and <b>fewer</b> crashes.</p><ul><li>One</li><li>Two</li></ul></body></html>"""


class _Site(ThreadingHTTPServer):
    daemon_threads = True
    paths: list[str]


def _handler() -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server: _Site

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.server.paths.append(self.path)
            url = urlparse(self.path)
            if url.path == "/page":
                self._send(200, "text/html; charset=utf-8", PAGE.encode())
            elif url.path == "/big":
                self._send(200, "text/plain", b"x" * 50_000)
            elif url.path == "/to-other-loopback":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.2:{self.server.server_address[1]}/page")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path == "/search":
                query = parse_qs(url.query)
                results = [{"title": f"Result {i} for {query['q'][0]}", "url": f"https://example.org/{i}",
                            "content": f"snippet {i}"} for i in range(1, 9)]
                self._send(200, "application/json", json.dumps({"results": results}).encode())
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def site() -> Iterator[_Site]:
    server = _Site(("127.0.0.1", 0), _handler())
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def base(site: _Site) -> str:
    return f"http://127.0.0.1:{site.server_address[1]}"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/page",
    "http://localhost:{port}/page",
    "http://10.1.2.3/",
    "http://192.168.1.1/admin",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:{port}/page",
    "http://[::ffff:127.0.0.1]:{port}/page",
    "http://0.0.0.0:{port}/page",
    "http://224.0.0.1/",
])
async def test_private_addresses_are_refused(url: str, site: _Site, make_config: Callable[..., Config]) -> None:
    async with open_world(make_config()) as world:
        result = await world.call(member(), "web_fetch", json.dumps({"url": url.format(port=site.server_address[1])}))
    assert result.error and "refused" in result.content
    assert site.paths == []  # nothing reached the server


async def test_other_schemes_are_refused(make_config: Callable[..., Config]) -> None:
    async with open_world(make_config()) as world:
        result = await world.call(member(), "web_fetch", '{"url": "file:///etc/passwd"}')
    assert result.error and "only http and https" in result.content


async def test_redirect_to_loopback_is_refused_on_the_next_hop(site: _Site,
                                                              make_config: Callable[..., Config]) -> None:
    # The first host is allowed explicitly; the redirect target is another loopback address, checked again.
    config = make_config(tools={"web_fetch_allow_networks": ["127.0.0.1/32"]})
    async with open_world(config) as world:
        result = await world.call(member(), "web_fetch", json.dumps({"url": base(site) + "/to-other-loopback"}))
    assert result.error and "127.0.0.2" in result.content and "loopback" in result.content
    assert site.paths == ["/to-other-loopback"]


async def test_fetch_returns_readable_text_marked_untrusted(site: _Site, make_config: Callable[..., Config]) -> None:
    async with open_world(make_config(tools={"web_fetch_allow_private": True})) as world:
        result = await world.call(member(), "web_fetch", json.dumps({"url": base(site) + "/page"}))
    assert not result.error, result.content
    text = result.content
    assert text.startswith("[untrusted web content]") and text.rstrip().endswith("[end of untrusted web content]")
    assert "title: Release notes" in text and "# Version 2.0" in text
    assert "Faster sync and fewer crashes." in text and "- One" in text
    assert "do-not-show" not in text and "color:red" not in text and "About" not in text


async def test_fetch_stops_at_the_byte_limit(site: _Site, make_config: Callable[..., Config]) -> None:
    config = make_config(tools={"web_fetch_allow_private": True, "web_fetch_max_bytes": 1000})
    async with open_world(config) as world:
        result = await world.call(member(), "web_fetch", json.dumps({"url": base(site) + "/big"}))
    assert "cut at 1000 bytes" in result.content
    assert result.content.count("x") <= 1000


async def test_search_without_an_endpoint_says_how_to_configure_it(make_config: Callable[..., Config]) -> None:
    async with open_world(make_config()) as world:
        result = await world.call(member(), "web_search", '{"query": "teamclaw"}')
    assert result.error and "tools.search_url" in result.content


async def test_search_lists_results_from_the_endpoint(site: _Site, make_config: Callable[..., Config]) -> None:
    config = make_config(tools={"search_url": base(site) + "/search", "web_search_max_results": 3})
    async with open_world(config) as world:
        result = await world.call(member(), "web_search", '{"query": "sync engines"}')
    assert not result.error, result.content
    assert "1. Result 1 for sync engines" in result.content and "https://example.org/3" in result.content
    assert "Result 4" not in result.content
    assert result.content.startswith("[untrusted web content]")
    assert site.paths[0].startswith("/search?") and "format=json" in site.paths[0]
