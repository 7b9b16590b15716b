"""The dashboard web app: one page and its JSON API over the database, the daemon's status and memory.

Read-only except two actions: pause a scheduled job and forget a memory. The daemon builds the app with
``build_dashboard(services, status=...)`` and serves it with ``serve_dashboard`` (see ``server.py``).

The memory browser calls the memory store's ``list_records(scope, limit=)``, ``recall(scope, query, k)`` and
``forget(scope, record_id=)`` with the scope of a direct chat with the member: it shows what that member's
sub-agent could recall there, never another member's private records.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from assistant import __version__
from assistant.dashboard import queries
from assistant.dashboard.auth import TokenGate
from assistant.errors import TeamclawError
from assistant.messages import ChatKind, MemberScope
from assistant.services import Services

__all__ = ["build_dashboard"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_USAGE_DAYS = 14
MAX_USAGE_DAYS = 366
MEMORY_PAGE = 100
DASHBOARD_CHANNEL = "dashboard"

StatusFn = Callable[[], dict[str, Any]]


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _plain(item: Any) -> Any:
    """A memory item as JSON: dataclass, pydantic model, mapping or plain object with attributes."""
    if is_dataclass(item) and not isinstance(item, type):
        data = asdict(item)
    elif hasattr(item, "model_dump"):
        data = item.model_dump()
    elif isinstance(item, dict):
        data = dict(item)
    elif hasattr(item, "__dict__"):
        data = {k: v for k, v in vars(item).items() if not k.startswith("_")}
    else:
        return str(item)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


class _Dashboard:
    """Route handlers; holds the services and the daemon's status callable for the app's lifetime."""

    def __init__(self, services: Services, status: StatusFn) -> None:
        self.services = services
        self.status = status
        self.zone = ZoneInfo(services.config.team.timezone)

    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-store"})

    async def health(self, request: Request) -> JSONResponse:
        now = self.services.clock.now()
        try:
            daemon = dict(self.status())
            status_error = None
        except Exception:  # the status callable is the daemon's: a failure there must not take the page down
            log.exception("dashboard: the daemon's status callable failed")
            daemon, status_error = {}, "the daemon did not report its status; see the log"
        models = {m["model"]: m for m in await queries.model_health(self.services.db, now=now)}
        for name, extra in dict(daemon.get("models") or {}).items():
            models[name] = {**models.get(name, {"model": name}), **extra}
        for name, model in self.services.config.all_models().items():
            models.setdefault(name, {"model": name, "location": model.location, "calls": 0})
        queue = await queries.queue_depth(self.services.db)
        if isinstance(daemon.get("queue_depth"), int):
            queue["dispatch_waiting"] = daemon["queue_depth"]  # turns waiting in the daemon's memory queue
        queue.update(daemon.get("queue") or {})
        processes = None
        if not self.services.db.is_sqlite:
            from assistant.leases import describe_processes

            processes = await describe_processes(self.services.db)  # several processes on one PostgreSQL
        return JSONResponse({
            "version": __version__,
            "now": now.isoformat(),
            "timezone": self.services.config.team.timezone,
            "channels": daemon.get("channels") or {},
            "subagents": daemon.get("subagents") or [],
            "queue": queue,
            "models": sorted(models.values(), key=lambda m: str(m["model"])),
            "status_error": status_error,
            "processes": processes,
        })

    async def usage(self, request: Request) -> JSONResponse:
        try:
            days = min(max(int(request.query_params.get("days", DEFAULT_USAGE_DAYS)), 1), MAX_USAGE_DAYS)
        except ValueError:
            return JSONResponse({"error": "days must be a whole number"}, 400)
        today = self.services.clock.now().astimezone(self.zone).date()
        first = today - timedelta(days=days - 1)
        since = self.services.clock.now() - timedelta(days=days + 1)
        rows = [r for r in await queries.usage_by_day(self.services.db, since=since, zone=self.zone)
                if r["day"] >= first.isoformat()]
        return JSONResponse({
            "days": [(first + timedelta(days=i)).isoformat() for i in range(days)],
            "rows": rows,
            "total_cost": round(sum(r["cost"] for r in rows), 6),
            "total_tokens": sum(r["tokens_in"] + r["tokens_out"] for r in rows),
        })

    async def jobs(self, request: Request) -> JSONResponse:
        found = await queries.jobs(self.services.db)
        can_pause = callable(getattr(self.services.scheduler, "pause", None))
        return JSONResponse({"available": found is not None, "jobs": found or [], "can_pause": can_pause})

    async def members(self, request: Request) -> JSONResponse:
        return JSONResponse({"members": await queries.members(self.services.db)})

    async def _scope(self, raw_member: Any) -> MemberScope | JSONResponse:
        """The scope a direct chat with this member has: their private memories and the team's, no group's."""
        try:
            member_id = int(raw_member)
        except (TypeError, ValueError):
            return JSONResponse({"error": "member must be a member id (see /api/members)"}, 400)
        found = [m for m in await queries.members(self.services.db) if m["id"] == member_id]
        if not found:
            return JSONResponse({"error": f"no member with id {member_id}"}, 404)
        member = found[0]
        return MemberScope(
            member_id=member_id, member_name=member["name"], channel=DASHBOARD_CHANNEL,
            chat_id=f"member-{member_id}", chat_kind=ChatKind.DIRECT,
            timezone=member["timezone"] or self.services.config.team.timezone, private=member["private"],
        )

    async def memory(self, request: Request) -> JSONResponse:
        scope = await self._scope(request.query_params.get("member"))
        if isinstance(scope, JSONResponse):
            return scope
        store = self.services.memory
        query = request.query_params.get("q", "").strip()
        listing = getattr(store, "list_records", None)
        recall = getattr(store, "recall", None)
        if listing is None or recall is None:
            return JSONResponse({"available": False, "member_id": scope.member_id, "items": []})
        if query:
            items = await _maybe_await(recall(scope, query, MEMORY_PAGE))
        else:
            items = await _maybe_await(listing(scope, limit=MEMORY_PAGE))
        return JSONResponse({
            "available": True, "member_id": scope.member_id, "query": query,
            "can_forget": callable(getattr(store, "forget", None)),
            "items": [_plain(i) for i in items],
        })

    async def forget(self, request: Request) -> JSONResponse:
        body = await _json_body(request)
        if isinstance(body, JSONResponse):
            return body
        forget = getattr(self.services.memory, "forget", None)
        if forget is None:
            return JSONResponse({"error": "memory is disabled in this teamclaw"}, 503)
        scope = await self._scope(body.get("member"))
        if isinstance(scope, JSONResponse):
            return scope
        item_id = body.get("id")
        if item_id is None:
            return JSONResponse({"error": "id (the memory to forget) is missing"}, 400)
        try:
            removed = await _maybe_await(forget(scope, record_id=int(item_id)))
        except (TypeError, ValueError):
            return JSONResponse({"error": "id must be a memory id"}, 400)
        except TeamclawError as exc:
            return JSONResponse({"error": str(exc)}, 409)
        if not removed:
            return JSONResponse({"error": f"memory {item_id} is not one this member may forget"}, 404)
        log.info("dashboard: forgot memory %s of member %s", item_id, scope.member_id)
        return JSONResponse({"forgotten": item_id, "member_id": scope.member_id})

    async def pause_job(self, request: Request) -> JSONResponse:
        pause = getattr(self.services.scheduler, "pause", None)
        if pause is None:
            return JSONResponse({"error": "the scheduler is not running in this teamclaw"}, 503)
        raw = request.path_params["job_id"]
        job_id: int | str = int(raw) if raw.isdigit() else raw
        try:
            await _maybe_await(pause(job_id))
        except TeamclawError as exc:
            return JSONResponse({"error": str(exc)}, 409)
        log.info("dashboard: paused job %s", job_id)
        return JSONResponse({"paused": job_id})


async def _json_body(request: Request) -> dict[str, Any] | JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "the body is not valid JSON"}, 400)
    if not isinstance(body, dict):
        return JSONResponse({"error": "the body must be a JSON object"}, 400)
    return body


def build_dashboard(services: Services, *, status: StatusFn) -> Starlette:
    """The dashboard app. ``status()`` is the daemon's live view, a dict with any of:

    ``channels``: {name: {"connected": bool, "last_event_at": iso str | None, ...}},
    ``subagents``: [{"member_id", "name", "last_activity_at", "running": bool, ...}],
    ``queue``: extra counters merged into the queue depth read from the database (``queue_depth``, an int,
    shows as ``dispatch_waiting``),
    ``models``: {name: {"reachable": bool, "latency_ms": float, ...}} merged over the 24 h figures.
    When ``dashboard.token`` (or its env var) is set every request must carry it.
    """
    views = _Dashboard(services, status)
    routes = [
        Route("/", views.index),
        Route("/api/health", views.health),
        Route("/api/usage", views.usage),
        Route("/api/jobs", views.jobs),
        Route("/api/jobs/{job_id}/pause", views.pause_job, methods=["POST"]),
        Route("/api/members", views.members),
        Route("/api/memory", views.memory),
        Route("/api/memory/forget", views.forget, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    token = services.config.dashboard.access_token()
    return Starlette(routes=routes, middleware=[Middleware(TokenGate, token=token)])
