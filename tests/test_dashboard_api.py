"""The dashboard over real HTTP on 127.0.0.1: JSON endpoints on a seeded database, the two actions, the token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from assistant.dashboard import DashboardServer, build_dashboard, serve_dashboard
from assistant.services import Services
from tests.standins.dashboard_world import ALICE, BOB, seeded_services

TOKEN = "dash-token-4f9c2b7e"


def _status() -> dict[str, Any]:
    return {
        "channels": {"telegram": {"connected": True, "last_event_at": "2025-01-02T03:04:05+00:00"},
                     "feishu": {"connected": False, "last_event_at": None}},
        "subagents": [{"member_id": ALICE, "name": "Alice Zhang", "last_activity_at": None, "running": True}],
        "queue_depth": 3,
        "models": {"gpt-cloud": {"reachable": True, "latency_ms": 380.0}},
    }


async def _serve(services: Services) -> DashboardServer:
    return await serve_dashboard(build_dashboard(services, status=_status), "127.0.0.1", 0)


@pytest.fixture
async def services(tmp_path: Any) -> AsyncIterator[Services]:
    svc = await seeded_services(tmp_path)
    yield svc
    await svc.db.aclose()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    server = await _serve(services)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            yield c
    finally:
        await server.aclose()


async def test_health_reports_channels_queue_and_models(client: httpx.AsyncClient) -> None:
    health = (await client.get("/api/health")).json()
    assert health["channels"]["telegram"]["connected"] is True
    assert health["channels"]["feishu"]["connected"] is False
    assert health["queue"] == {"inbound_received": 2, "inbound_processing": 1, "outbox_pending": 1,
                               "outbox_dead": 1, "dispatch_waiting": 3}
    models = {m["model"]: m for m in health["models"]}
    assert models["gpt-cloud"]["calls"] == 2 and models["gpt-cloud"]["failures"] == 1  # the last 24 h only
    assert models["gpt-cloud"]["reachable"] is True
    assert "local" in models  # configured (the bundled one) though it had no call today


async def test_usage_sums_cost_and_tokens_per_day_member_and_model(client: httpx.AsyncClient) -> None:
    usage = (await client.get("/api/usage", params={"days": 7})).json()
    assert len(usage["days"]) == 7
    alice_cloud = [r for r in usage["rows"] if r["member"] == "Alice Zhang" and r["model"] == "gpt-cloud"]
    two_days_ago = [r for r in alice_cloud if r["calls"] == 2]
    assert two_days_ago and two_days_ago[0]["cost"] == pytest.approx(0.2)
    assert two_days_ago[0]["tokens_in"] == 2000 and two_days_ago[0]["tokens_out"] == 400
    assert usage["total_cost"] == pytest.approx(0.5)
    assert usage["total_tokens"] == 1200 + 300 + 800 + 100 + 500 + 50 + 100 + 2000 + 700
    assert (await client.get("/api/usage", params={"days": "many"})).status_code == 400


async def test_members_show_identities_and_last_activity(client: httpx.AsyncClient) -> None:
    members = {m["name"]: m for m in (await client.get("/api/members")).json()["members"]}
    assert members["Alice Zhang"]["identities"] == ["telegram:111"]
    assert members["Bob Li"]["private"] is True
    assert members["Bob Li"]["last_activity_at"] is not None


async def test_jobs_listed_soonest_first_and_pause_goes_to_the_scheduler(
    client: httpx.AsyncClient, services: Services
) -> None:
    jobs = (await client.get("/api/jobs")).json()
    assert jobs["available"] and jobs["can_pause"]
    assert {j["id"]: j["state"] for j in jobs["jobs"]} == {7: "active", 8: "paused"}
    assert jobs["jobs"][0]["description"] == "every weekday at 09:00"

    response = await client.post("/api/jobs/7/pause", json={})
    assert response.status_code == 200 and response.json() == {"paused": 7}
    assert services.scheduler.paused == [7]
    jobs = (await client.get("/api/jobs")).json()
    assert {j["id"]: j["state"] for j in jobs["jobs"]}[7] == "paused"


async def test_pause_refuses_a_form_post(client: httpx.AsyncClient, services: Services) -> None:
    # A page on another site can submit a form to localhost; it cannot send JSON without a CORS preflight.
    response = await client.post("/api/jobs/7/pause", data={"x": "1"})
    assert response.status_code == 415
    response = await client.post("/api/jobs/7/pause", json={}, headers={"origin": "http://evil.example"})
    assert response.status_code == 403
    assert services.scheduler.paused == []


async def test_jobs_tolerate_a_missing_scheduler_table(client: httpx.AsyncClient, services: Services) -> None:
    async with services.db.session() as s:
        await s.execute(text("DROP TABLE jobs"))
    assert (await client.get("/api/jobs")).json()["jobs"] == []
    assert (await client.get("/api/jobs")).json()["available"] is False


async def test_memory_browser_keeps_each_member_to_their_scope(client: httpx.AsyncClient) -> None:
    alice = (await client.get("/api/memory", params={"member": ALICE})).json()
    texts = [i["text"] for i in alice["items"]]
    assert "Alice prefers tea over coffee" in texts and "The team ships on Thursdays" in texts
    assert not any("4711" in t for t in texts)
    found = (await client.get("/api/memory", params={"member": BOB, "q": "locker"})).json()
    assert [i["text"] for i in found["items"]] == ["Bob's locker code is 4711"]
    assert (await client.get("/api/memory", params={"member": 99})).status_code == 404
    assert (await client.get("/api/memory")).status_code == 400


async def test_forget_removes_only_the_members_own_memory(client: httpx.AsyncClient) -> None:
    bob = (await client.get("/api/memory", params={"member": BOB})).json()
    locker = next(i["id"] for i in bob["items"] if "4711" in i["text"])
    refused = await client.post("/api/memory/forget", json={"member": ALICE, "id": locker})
    assert refused.status_code == 404
    done = await client.post("/api/memory/forget", json={"member": BOB, "id": locker})
    assert done.json() == {"forgotten": locker, "member_id": BOB}
    bob = (await client.get("/api/memory", params={"member": BOB})).json()
    assert [i["text"] for i in bob["items"]] == ["The team ships on Thursdays"]


async def test_memory_disabled_degrades(services: Services) -> None:
    services.memory = None
    services.scheduler = None
    server = await _serve(services)
    try:
        async with httpx.AsyncClient(base_url=server.url) as c:
            assert (await c.get("/api/memory", params={"member": ALICE})).json()["available"] is False
            assert (await c.post("/api/memory/forget", json={"member": ALICE, "id": 1})).status_code == 503
            assert (await c.post("/api/jobs/7/pause", json={})).status_code == 503
            assert (await c.get("/api/jobs")).json()["can_pause"] is False
    finally:
        await server.aclose()


async def test_a_failing_status_callable_does_not_take_the_page_down(services: Services) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("daemon state unavailable")

    server = await serve_dashboard(build_dashboard(services, status=broken), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=server.url) as c:
            health = (await c.get("/api/health")).json()
        assert health["status_error"] and health["queue"]["inbound_received"] == 2
    finally:
        await server.aclose()


async def test_without_token_only_loopback_host_names_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/members")).status_code == 200
    rebound = await client.get("/api/members", headers={"host": "attacker.example:8765"})
    assert rebound.status_code == 403


@pytest.fixture
async def token_server(tmp_path: Any) -> AsyncIterator[DashboardServer]:
    services = await seeded_services(tmp_path, token=TOKEN)
    server = await _serve(services)
    try:
        yield server
    finally:
        await server.aclose()
        await services.db.aclose()


async def test_token_is_required_on_every_endpoint(token_server: DashboardServer) -> None:
    async with httpx.AsyncClient(base_url=token_server.url) as c:
        for path in ("/", "/api/health", "/api/usage", "/api/jobs", "/api/members", "/static/dashboard.js"):
            assert (await c.get(path)).status_code == 401, path
        assert (await c.get("/api/members", headers={"authorization": "Bearer wrong"})).status_code == 401
        assert (await c.post("/api/jobs/7/pause", json={})).status_code == 401
        ok = await c.get("/api/members", headers={"authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and len(ok.json()["members"]) == 2


async def test_query_token_once_then_cookie(token_server: DashboardServer) -> None:
    async with httpx.AsyncClient(base_url=token_server.url) as c:
        first = await c.get("/", params={"token": TOKEN})
        assert first.status_code == 303 and first.headers["location"] == "/"
        cookie = first.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
        assert TOKEN not in cookie  # the cookie carries a value derived from the token, not the token
        page = await c.get("/")  # the client kept the cookie
        assert page.status_code == 200 and "teamclaw" in page.text
        assert (await c.get("/api/health")).status_code == 200
    async with httpx.AsyncClient(base_url=token_server.url) as fresh:
        assert (await fresh.get("/", params={"token": "nope"})).status_code == 401
        assert (await fresh.get("/api/health", cookies={"teamclaw_dashboard": "forged"})).status_code == 401
