"""The seam between the scheduler and the daemon: run an agent job, hand a result to the outbox."""

from __future__ import annotations

from typing import Protocol

from assistant.messages import Reply
from assistant.scheduler.jobs import JobView

__all__ = ["JobHost"]


class JobHost(Protocol):
    """Implemented by the daemon.

    ``run_agent_job`` runs ``job.payload`` as one turn of the owner's sub-agent (``job.scope()`` gives the
    owner's scope in the chat the job was set in) and returns the text to deliver; it may raise, which records
    the run as failed and tells the owner in plain words. It is called at most once per planned run.

    ``deliver`` stores the reply in the outbox under ``reply.idempotency_key`` and returns; the outbox sends it on
    its own and retries sends. The same key twice must store it once. If ``deliver`` raises, the scheduler
    calls it again later with the same reply; the task is never run again for it.
    """

    async def run_agent_job(self, job: JobView) -> str: ...

    async def deliver(self, reply: Reply, *, member_id: int | None) -> None: ...
