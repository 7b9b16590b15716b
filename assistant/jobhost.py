"""What the scheduler and the heartbeat need from the running daemon: run a job as a turn of its owner's
sub-agent, ask a model about heartbeat findings, and hand results to the outbox."""

from __future__ import annotations

from assistant.agent import TurnRequest
from assistant.heartbeat.prompt import heartbeat_request
from assistant.messages import ChatKind, MemberScope, Reply
from assistant.scheduler.jobs import JobView
from assistant.services import Services
from assistant.storage.tables import Member

__all__ = ["DaemonJobHost"]


class DaemonJobHost:
    """Implements the scheduler's ``JobHost`` and the heartbeat's ``HeartbeatHost``."""

    def __init__(self, services: Services) -> None:
        self._s = services

    async def run_agent_job(self, job: JobView) -> str:
        # A job runs with the owner's memory and tools but without the chat session's history: it is a task of its
        # own, and its result must not depend on whatever the member last talked about.
        async with self._s.db.session() as s:
            owner = await s.get(Member, job.member_id)
        scope = job.scope(is_admin=owner is not None and owner.role in ("owner", "admin"),
                          private=owner is not None and owner.private)
        request = TurnRequest(scope=scope, text=job.payload, sent_at=self._s.clock.now(), ephemeral=True)
        result = await self._s.agents.turn(request)
        return str(result.text)

    async def deliver(self, reply: Reply, *, member_id: int | None) -> None:
        await self._s.outbox.enqueue(reply, member_id)

    async def heartbeat_turn(self, member_id: int, findings: list[str]) -> str | None:
        async with self._s.db.session() as s:
            member = await s.get(Member, member_id)
        name = member.name if member is not None else ""
        scope = MemberScope(member_id=member_id, member_name=name, channel="heartbeat", chat_id=str(member_id),
                            chat_kind=ChatKind.DIRECT, private=True)
        routed = await self._s.router.complete(heartbeat_request(name, findings), role="heartbeat", scope=scope,
                                               private=True)
        return str(routed.response.text)
