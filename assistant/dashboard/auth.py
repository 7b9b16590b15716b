"""The dashboard's gate: loopback Host check, bearer or one-time query token then cookie, JSON-only POSTs."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import URL, Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["COOKIE_NAME", "TokenGate"]

COOKIE_NAME = "teamclaw_dashboard"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_COOKIE_CONTEXT = b"teamclaw dashboard session cookie"


def _cookie_value(token: str) -> str:
    # The cookie holds a value derived from the token, not the token itself: a leaked cookie jar does not
    # reveal the token that the API (Authorization: Bearer) accepts.
    return hmac.new(token.encode(), _COOKIE_CONTEXT, hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class TokenGate:
    """ASGI middleware in front of every dashboard route.

    - Without a token the dashboard answers only requests whose Host is a loopback name, so a web page that
      rebinds its own DNS name to 127.0.0.1 cannot read it.
    - With a token every request needs it: ``Authorization: Bearer TOKEN``, or the cookie set after a single
      ``?token=TOKEN`` visit (a page load is then redirected to the same URL without the token).
    - A POST must send JSON and, when the browser names an Origin, come from the dashboard's own origin: a
      form on another site cannot pause a job.
    """

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = token or None
        self.cookie = _cookie_value(self.token) if self.token else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        refusal = self._refusal(conn)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        query_token = conn.query_params.get("token")
        if self.token and query_token is not None:
            if scope["method"] == "GET" and not scope["path"].startswith("/api/"):
                await self._with_cookie(RedirectResponse(self._without_token(conn.url), status_code=303))(
                    scope, receive, send
                )
                return
            await self.app(scope, receive, self._cookie_setter(send))
            return
        await self.app(scope, receive, send)

    def _refusal(self, conn: HTTPConnection) -> Response | None:
        if not self.token and conn.url.hostname not in LOOPBACK_HOSTS:
            return PlainTextResponse(
                "this dashboard answers on localhost only; set dashboard.token to serve it elsewhere", 403
            )
        if self.token and not self._authorized(conn):
            if conn.url.path.startswith("/api/"):
                return JSONResponse({"error": "token required: send Authorization: Bearer TOKEN"}, 401)
            return PlainTextResponse("token required: open this page once with ?token=TOKEN", 401)
        if conn.scope["method"] not in ("GET", "HEAD"):
            content_type = conn.headers.get("content-type", "").split(";")[0].strip()
            if content_type != "application/json":
                return JSONResponse({"error": "send the request body as application/json"}, 415)
            origin = conn.headers.get("origin")
            if origin and origin != f"{conn.url.scheme}://{conn.url.netloc}":
                return JSONResponse({"error": "cross-origin request refused"}, 403)
        return None

    def _authorized(self, conn: HTTPConnection) -> bool:
        assert self.token is not None
        header = conn.headers.get("authorization", "")
        if header[:7].lower() == "bearer " and _same(header[7:].strip(), self.token):
            return True
        cookie = conn.cookies.get(COOKIE_NAME)
        if cookie and _same(cookie, self.cookie):
            return True
        query_token = conn.query_params.get("token")
        return query_token is not None and _same(query_token, self.token)

    @staticmethod
    def _without_token(url: URL) -> str:
        rest = [(k, v) for k, v in parse_qsl(url.query, keep_blank_values=True) if k != "token"]
        return str(url.replace(query=urlencode(rest))) if rest else url.path

    def _with_cookie(self, response: Response) -> Response:
        response.set_cookie(COOKIE_NAME, self.cookie, httponly=True, samesite="strict", path="/")
        return response

    def _cookie_setter(self, send: Send) -> Send:
        cookie_header = self._with_cookie(Response()).headers["set-cookie"]

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(Headers(raw=message["headers"]).raw))
                headers.append("set-cookie", cookie_header)
                message = {**message, "headers": headers.raw}
            await send(message)

        return send_with_cookie
