"""One turn of a member's sub-agent: context, the tool-call loop through the router, the transcript kept.

Every model call leaves through ``router.complete`` (privacy, routing, cost); every tool call through the tool
registry (permissions, validation, limits). A tool error or a malformed tool call goes back to the model as a
result; it never ends the turn.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from assistant.config import Role
from assistant.context import ContextBuilder, estimate_tokens, member_words
from assistant.errors import BudgetExceeded, ContextOverflow, NoLocalModel, PrivacyViolation, ProviderError
from assistant.media.intake import Prepared, Received
from assistant.messages import ChatKind, MemberScope, utcnow
from assistant.privacy import KIND_LABELS
from assistant.providers.base import ChatMessage, ModelRequest, ModelResponse
from assistant.router import Routed
from assistant.services import Services
from assistant.storage.tables import Session, TranscriptEntry, table_of
from assistant.tools import ToolContext

if TYPE_CHECKING:
    from memory.render import MemoryBlock

__all__ = ["Agents", "TurnRequest", "TurnResult"]

log = logging.getLogger(__name__)

HISTORY_TOOL_RESULT_CHARS = 4_000
_DEGRADED_WORDS = {"vision": "images", "audio": "audio", "video": "video"}
_MEDIA_NEEDS = frozenset({"vision", "audio", "video"})
# The line dispatch adds per attachment ("[attached image: photo.jpg]").
_ATTACHMENT_NOTE = re.compile(r"^\[attached (?:image|file|audio|video)(?:: .*)?\]$")
# What a delegated task may use: tools that read the public web, nothing of the member it runs for.
DELEGATED_TOOLS = frozenset({"web_fetch", "web_search"})
# A model that says it is unsure gets a second opinion one tier up (only when such a model exists).
_SAYS_UNSURE = re.compile(
    r"\b(i'?m not (?:sure|certain)|i am not (?:sure|certain)|not confident|i don'?t know for sure)\b|"
    r"我不确定|我不太确定|不太清楚", re.IGNORECASE)
_SAYS_WRONG = re.compile(
    r"^\W*(that'?s (?:wrong|not right|incorrect)|wrong answer|you(?:'re| are) wrong|incorrect\b|不对|错了|答错|不正确)",
    re.IGNORECASE)
SUBAGENT_MAX_STEPS = 6

# Built once: statements on the tables themselves skip the ORM's per-call work at the end of every turn.
_TRANSCRIPT = table_of(TranscriptEntry)
_SESSIONS = table_of(Session)
_APPEND = insert(_TRANSCRIPT)
_TOUCH = update(_SESSIONS).where(_SESSIONS.c.id == bindparam("session")).values(updated_at=bindparam("at"))
_ACTIVE_SESSION = select(_SESSIONS.c.id).where(_SESSIONS.c.key == bindparam("key"), _SESSIONS.c.active.is_(True))
_ADD_SESSION = insert(_SESSIONS).returning(_SESSIONS.c.id)


@dataclass(frozen=True, slots=True)
class TurnRequest:
    scope: MemberScope
    text: str
    sent_at: datetime
    inbound_ids: tuple[int, ...] = ()
    needs: frozenset[str] = frozenset()
    # Set when another member delegated this task: the turn then sees no private memory of anyone.
    delegated_by: str | None = None
    # Scheduled jobs and heartbeats run without a session history of their own.
    ephemeral: bool = False
    role: Role = "chat"
    # In a group: the member's direct chat on this platform, where an answer that needs their private memory goes
    # (None where the bot cannot start one).
    direct_chat_id: str | None = None
    # Files the member sent with these messages; the turn downloads and reads them (``media``) before routing.
    attachments: tuple[Received, ...] = ()
    media: Prepared | None = None


@dataclass
class TurnResult:
    text: str
    private: bool = False
    models: list[str] = field(default_factory=list)
    tool_calls: int = 0
    # True once a tool ran: from then on the turn has effects and must not be cancelled to fold a burst.
    committed: bool = False
    # Abilities the request needed that no allowed model has (an image and no vision model): said in the reply.
    degraded: tuple[str, ...] = ()
    # What the turn adds to the member's session (their message, tool steps, the answer), written by
    # ``save_turn`` in the same transaction that stores the reply; empty for turns that keep no history.
    session_id: int | None = None
    entries: list[ChatMessage] = field(default_factory=list)
    # Set when a group message was answered in the member's direct chat (the answer needed their private memory).
    direct_chat_id: str | None = None
    # The member's words as the turn read them (with transcripts and document text), for memory; "" = req.text.
    heard: str = ""


def _said_anything(text: str) -> bool:
    """Whether the member wrote something besides the notes naming their attachments."""
    return any(line.strip() and not _ATTACHMENT_NOTE.match(line.strip()) for line in text.splitlines())


def stays_local_reply(exc: NoLocalModel) -> str:
    """What a member is told when a turn must stay on this machine and no local model can take it."""
    if exc.configured:
        return ("This message has to stay on this machine, and the local model that answers such messages did "
                "not respond. Nothing was sent to a cloud model. An admin can check it with `teamclaw doctor`.")
    if exc.kinds:
        found = ", ".join(dict.fromkeys(KIND_LABELS.get(k, k) for k in exc.kinds))
        why = f"Your message contains personal data ({found}), which stays on this machine."
    else:
        why = "You or this chat are set to keep everything on this machine."
    return (f"{why} Nothing was sent to a cloud model, and no local model is set up to answer it. To get answers "
            "to messages like this, an admin can add a local model (`teamclaw onboard` finds Ollama and LM "
            "Studio), or turn on redaction for you or this chat (routing.redaction_members / redaction_chats), "
            "which sends placeholders instead and puts the values back into the answer.")


def _without_sensitive(history: list[ChatMessage]) -> list[ChatMessage]:
    """History fit for a cloud model: sensitive user and assistant messages dropped; a sensitive tool step kept as
    a placeholder so each tool call still has its result."""
    kept: list[ChatMessage] = []
    for m in history:
        if not m.private:
            kept.append(m)
        elif m.role == "tool":
            kept.append(replace(m, content="(withheld: sensitive, kept on this machine)", private=False))
        elif m.tool_calls:
            calls = tuple(replace(c, arguments="{}") for c in m.tool_calls)
            kept.append(replace(m, content="", tool_calls=calls, private=False))
    return kept


def _limit_reached_reply(steps: int) -> str:
    return (f"I stopped after {steps} steps without a final answer. Tell me what to focus on and I will go on.")


class Agents:
    """Runs turns for any member; holds no per-member state (that lives in the database)."""

    def __init__(self, services: Services, *, allowed_tools: Callable[[MemberScope], frozenset[str]]) -> None:
        self._s = services
        cfg = services.config
        self._agent_cfg = cfg.agent
        self._context = ContextBuilder(services.db, cfg.workspace_dir, cfg.agent.persona_file,
                                       cfg.agent.instructions_file)
        self._allowed_tools = allowed_tools
        # session key -> active session id; one member's turns run one at a time, so this never goes stale
        # except through new_session, which updates it.
        self._sessions: dict[str, int] = {}

    # ---- sessions ----------------------------------------------------------------------------------------
    async def session_id(self, scope: MemberScope) -> int:
        cached = self._sessions.get(scope.session_key)
        if cached is not None:
            return cached
        async with self._s.db.transaction() as conn:
            found = (await conn.execute(_ACTIVE_SESSION, {"key": scope.session_key})).scalar()
            session_id = int(found if found is not None else (await conn.execute(
                _ADD_SESSION, {"key": scope.session_key, "member_id": scope.member_id})).scalar_one())
        self._sessions[scope.session_key] = session_id
        return session_id

    async def new_session(self, scope: MemberScope) -> int:
        self._sessions.pop(scope.session_key, None)
        async with self._s.db.session() as s:
            await s.execute(update(Session).where(Session.key == scope.session_key).values(active=False))
        return await self.session_id(scope)

    async def save_turn(self, s: AsyncConnection, req: TurnRequest, result: TurnResult) -> None:
        """Write what the turn adds to the session, inside the caller's transaction: the dispatcher stores the
        reply in the same one, so a turn is in the history exactly when its answer is in the outbox (a turn
        re-run after a crash wrote nothing the first time)."""
        if result.session_id is None or not result.entries:
            return
        message_id = req.inbound_ids[-1] if req.inbound_ids else None
        now = utcnow()
        rows = []
        # Each entry keeps its sensitivity verdict: what the detector finds in it, or the flag it came with (the
        # turn ran on a local model because it was private; a tool read the member's private files). The router
        # read most of these texts for the turn's model calls and its cache answers; the final answer is new and
        # may be embedded by the detector (~15 ms), so off the event loop.
        verdicts = await asyncio.to_thread(lambda: [self._s.router.verdict(m) for m in result.entries])
        for m, verdict in zip(result.entries, verdicts, strict=True):
            rows.append(dict(
                session_id=result.session_id, role=m.role,
                content=m.content if m.role != "tool" else m.content[:HISTORY_TOOL_RESULT_CHARS],
                tool_calls=[{"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls] or None,
                tool_call_id=m.tool_call_id, name=m.name, message_id=message_id, private=verdict.private,
                sensitive_kinds=verdict.kinds_text, detector_version=verdict.version, compacted=False,
                created_at=now))
        await s.execute(_APPEND, rows)
        await s.execute(_TOUCH, {"session": result.session_id, "at": now})

    # ---- context -----------------------------------------------------------------------------------------
    def _model_window(self) -> int:
        models = self._s.config.all_models()
        return min((m.context_window for m in models.values()), default=8192)

    async def _system(self, scope: MemberScope, delegated: bool) -> str:
        skills_index = ""
        if self._s.skills is not None:
            skills_index = self._s.skills.index_text(scope)
        return self._context.system_prompt(skills_index=skills_index)

    async def _memory(self, req: TurnRequest, *, keep_local: bool) -> MemoryBlock | None:
        """Recalled memory for the turn. A delegated task and a reply the whole group reads get none of the
        member's private-visibility memory; without a local model, sensitive memory stays out too (it could only
        make the turn unanswerable)."""
        if self._s.memory is None or self._s.config.memory.recall_k == 0:
            return None
        shared = req.delegated_by is not None or req.scope.chat_kind is ChatKind.GROUP
        block: MemoryBlock = await self._s.memory.context_block(
            req.scope, req.text, self._s.config.memory.recall_token_budget, include_private=not shared,
            include_sensitive=keep_local)
        return block

    @staticmethod
    def _direct_scope(scope: MemberScope, chat_id: str) -> MemberScope:
        return replace(scope, chat_id=chat_id, chat_kind=ChatKind.DIRECT, thread_id=None)

    async def _maybe_compact(self, scope: MemberScope, session_id: int, messages: list[ChatMessage],
                             *, force: bool = False) -> bool:
        if self._s.memory is None:
            return False
        used = sum(estimate_tokens(m.content) for m in messages)
        if not force and used < self._agent_cfg.compact_at_ratio * self._model_window():
            return False
        from memory.compaction import compact_session

        await compact_session(self._s, scope, session_id, keep_last=6)
        return True

    async def _escalation(self, scope: MemberScope, text: str, history: list[ChatMessage]) -> int:
        """A member saying the last answer was wrong: remember it for the router, and try a stronger model now."""
        if not _SAYS_WRONG.search(text):
            return 0
        last = self._s.router.last_route(scope)
        previous = next((member_words(m.content) for m in reversed(history) if m.role == "user"), "")
        if previous:
            await self._s.router.feedback(scope, previous, ok=False)
        models = self._s.config.all_models()
        return (models[last.model].tier + 1) if last is not None and last.model in models else 1

    # ---- files the member sent ---------------------------------------------------------------------------
    async def _read_media(self, req: TurnRequest) -> TurnRequest:
        """Download and read the turn's files once (a turn re-run for a direct answer keeps what was read).
        Their text joins the member's message; the needs become what the converted files need (a voice note
        needs no audio model once transcribed)."""
        if not req.attachments or req.media is not None or self._s.media is None or req.delegated_by is not None:
            return req
        prepared: Prepared = await self._s.media.prepare(req.scope, req.attachments)
        text = "\n".join(part for part in (req.text, prepared.text) if part)
        return replace(req, text=text, media=prepared, needs=(req.needs - _MEDIA_NEEDS) | prepared.needs)

    async def _refused_only(self, req: TurnRequest, media: Prepared) -> TurnResult:
        """The member sent only files that were refused (too large, a type not taken): say so, ask no model."""
        result = TurnResult(text="\n".join(media.refused))
        if not req.ephemeral:
            result.session_id = await self.session_id(req.scope)
            result.entries = [self._context.user_message(req.scope, req.text, req.sent_at),
                              ChatMessage(role="assistant", content=result.text)]
        return result

    def _media_notes(self, req: TurnRequest, media: Prepared, result: TurnResult) -> str:
        """The answer, after what was refused and, when the files went to another model than the one that
        usually answers this member, which one looked at them."""
        lines = list(media.refused)
        if media.images and result.models:
            looked = result.models[0]
            usual = self._s.router.decide(ModelRequest(messages=(ChatMessage(role="user", content=req.text),)),
                                          role="chat", scope=req.scope, private=result.private).model
            if looked != usual:
                what = "video" if "video" in media.needs or any(a.attachment.kind == "video"
                                                                for a in req.attachments) else "picture"
                lines.append(f"(The {what} was looked at by {looked}.)")
        return "\n".join([*lines, "", result.text]) if lines else result.text

    # ---- the turn ----------------------------------------------------------------------------------------
    async def turn(self, req: TurnRequest, on_commit: Callable[[], None] | None = None) -> TurnResult:
        req = await self._read_media(req)
        if req.media is not None and req.media.refused and not req.media.usable and not _said_anything(req.text):
            return await self._refused_only(req, req.media)
        scope = req.scope
        delegated = req.delegated_by is not None
        keep_local = bool(self._s.router.local_models())
        recalled = await self._memory(req, keep_local=keep_local)
        if recalled is not None and recalled.withheld_private and req.direct_chat_id is not None:
            # The answer needs what the member told the assistant privately: it is given in their direct chat,
            # as a turn of that chat, and the group is told so in one line (dispatch).
            direct = replace(req, scope=self._direct_scope(scope, req.direct_chat_id), inbound_ids=(),
                             direct_chat_id=None)
            result = await self.turn(direct, on_commit)
            result.direct_chat_id = req.direct_chat_id
            return result
        memory_text = recalled.text if recalled is not None else ""
        memory_private = bool(recalled is not None and recalled.private)
        session_id = None if req.ephemeral else await self.session_id(scope)
        system = await self._system(scope, delegated)
        transcript = ""
        if req.inbound_ids:
            transcript = await self._context.group_transcript(
                scope, req.inbound_ids[0], self._agent_cfg.group_transcript_messages)
        note = f"(Task delegated by {req.delegated_by}.)" if delegated else ""
        history = [] if session_id is None else await self._context.history(session_id,
                                                                            self._agent_cfg.history_messages)
        if not keep_local:
            # No model could take sensitive history: leave it out rather than keep the member from any answer.
            history = _without_sensitive(history)
        if delegated:
            # A delegated task acts for another member: it sees what the member said and was answered in this
            # group (the group saw it too), never tool results or anything private; it writes nothing to the
            # member's session; and it may use only tools that touch nothing of the member's own.
            history = [m for m in history if m.role in ("user", "assistant") and not m.tool_calls and not m.private]
        media = req.media
        if media is not None and media.sensitive:
            memory_private = True  # what the files say (or where they were sent) keeps this turn on this machine
        # The profile changes as the member is learned: it rides with the message, after the cached prefix.
        profile = "" if delegated or self._s.memory is None else await self._s.memory.profile_text(scope)
        user = self._context.user_message(scope, req.text, req.sent_at, memory=memory_text, transcript=transcript,
                                          profile=profile, private=memory_private, note=note)
        if media is not None and media.images:
            user = replace(user, parts=media.images)  # this turn only: the history keeps the words
        stored_user = replace(user, parts=())  # as sent: the next turn's request then starts with this one
        messages = [ChatMessage(role="system", content=system), *history, user]
        if session_id is not None and not delegated and await self._maybe_compact(scope, session_id, messages):
            history = await self._context.history(session_id, self._agent_cfg.history_messages)
            messages = [ChatMessage(role="system", content=system), *history, user]
        allowed = self._allowed_tools(scope)
        if delegated:
            allowed = allowed & DELEGATED_TOOLS
        result = TurnResult(text="", private=scope.private or memory_private)
        min_tier = await self._escalation(scope, req.text, history)
        new_entries: list[ChatMessage] = [stored_user]
        try:
            async with asyncio.timeout(self._agent_cfg.turn_timeout_s):
                await self._loop(req, messages, allowed, result, new_entries, session_id, on_commit,
                                 max_steps=self._agent_cfg.max_steps, min_tier=min_tier)
        except TimeoutError:
            result.text = result.text or "That took too long, so I stopped. Try a smaller request."
        except NoLocalModel as exc:
            log.warning("turn for member %s: must stay local and no local model took it (%s)", scope.member_id,
                        ", ".join(exc.kinds) or ", ".join(exc.flags))
            result.text = stays_local_reply(exc)
            result.private = False  # the explanation itself holds nothing sensitive
        except PrivacyViolation:
            log.warning("turn for member %s: private request and no local model reachable", scope.member_id)
            result.text = ("This conversation contains private information, and the local model that must answer "
                           "it is not available right now. Nothing was sent to a cloud model.")
        except BudgetExceeded as exc:
            result.text = f"The model budget is used up: {exc}"
        except ProviderError:
            log.exception("turn for member %s: no model could answer", scope.member_id)
            result.text = ("I cannot reach any model right now. Your message is saved; please try again in a "
                           "little while.")
        # Only what the member sent and no model could read is worth a word; a model without tools (the bundled
        # one) just answers, and its first-chat note has said what it cannot do.
        unread = [d for d in result.degraded if d in _DEGRADED_WORDS]
        if unread:
            what = " or ".join(_DEGRADED_WORDS[d] for d in unread)
            result.text = (f"(None of the models I may use here can take {what}, so I answered from the text "
                           f"alone.)\n\n{result.text}")
        if media is not None:
            result.text = self._media_notes(req, media, result)
            result.heard = req.text
        if session_id is not None and not delegated:
            new_entries.append(ChatMessage(role="assistant", content=result.text, private=result.private))
            result.session_id, result.entries = session_id, new_entries
        return result

    async def after_turn(self, req: TurnRequest, result: TurnResult) -> None:
        """Journal the turn and save the facts it stated. Runs after the reply is stored, so memory work never
        delays an answer; the member's lane waits for it, so the next turn sees what this one taught."""
        if self._s.memory is None or req.delegated_by is not None or req.ephemeral:
            return
        router = self._s.router if self._s.config.memory.model_extraction else None
        scope = req.scope
        if result.direct_chat_id is not None:
            # Answered in the member's direct chat: journaled there, never in the group's journal.
            scope = self._direct_scope(scope, result.direct_chat_id)
        try:
            await self._s.memory.observe_turn(scope, result.heard or req.text, result.text,
                                              req.inbound_ids[-1] if req.inbound_ids else None, router=router)
        except Exception:
            log.exception("memory: observing the turn failed")

    async def _loop(self, req: TurnRequest, messages: list[ChatMessage], allowed: frozenset[str],
                    result: TurnResult, entries: list[ChatMessage], session_id: int | None,
                    on_commit: Callable[[], None] | None, *, max_steps: int, depth: int = 0,
                    min_tier: int = 0) -> None:
        scope = req.scope
        ctx = ToolContext(scope=scope, services=self._s, allowed_tools=allowed, session_id=session_id, depth=depth,
                          inbound_message_id=req.inbound_ids[-1] if req.inbound_ids else None)
        specs = self._s.tools.specs(allowed)
        bad_calls = 0
        seen_calls: dict[str, int] = {}
        overflow_retried = False
        unsure_retried = False
        for step in range(max_steps + 1):
            last = step == max_steps
            request = ModelRequest(messages=tuple(messages), tools=() if last else specs)
            role: Role = req.role if step == 0 else "tool_step"
            try:
                routed = await self._s.router.complete(request, role=role, scope=scope, private=result.private,
                                                       needs=req.needs, min_tier=min_tier)
            except ContextOverflow:
                if overflow_retried or session_id is None:
                    raise
                overflow_retried = True
                await self._maybe_compact(scope, session_id, messages, force=True)
                history = await self._context.history(session_id, self._agent_cfg.history_messages)
                messages[:] = [messages[0], *history, messages[-1]]
                continue
            response: ModelResponse = routed.response
            result.models.append(routed.route.model)
            result.private = result.private or routed.route.private
            result.degraded = tuple(dict.fromkeys((*result.degraded, *routed.route.degraded)))
            if not response.tool_calls or last:
                text = response.text.strip()
                if (not unsure_retried and _SAYS_UNSURE.search(text)
                        and self._stronger_exists(request, role, scope, result.private, req.needs, routed)):
                    # The model said it is not sure: ask once more, one tier up, before answering the member.
                    unsure_retried = True
                    min_tier = self._s.config.all_models()[routed.route.model].tier + 1
                    continue
                result.text = text or ("(no answer)" if not last else _limit_reached_reply(step))
                return
            assistant = ChatMessage(role="assistant", content=response.text, tool_calls=response.tool_calls,
                                    private=result.private)
            messages.append(assistant)
            entries.append(assistant)
            if on_commit is not None:
                on_commit()
            result.committed = True
            for call in response.tool_calls:
                key = f"{call.name}:{call.arguments}"
                seen_calls[key] = seen_calls.get(key, 0) + 1
                if seen_calls[key] > 2:
                    content, private, error = (f"error: {call.name} was already called with these arguments; "
                                               "answer with what you have"), False, True
                else:
                    tool_result = await self._s.tools.call(call.name, call.arguments, ctx)
                    content, private, error = tool_result.content, tool_result.private, tool_result.error
                result.tool_calls += 1
                if error and "malformed arguments" in content:
                    bad_calls += 1
                result.private = result.private or private
                tool_msg = ChatMessage(role="tool", content=content, tool_call_id=call.id, name=call.name,
                                       private=private)
                messages.append(tool_msg)
                entries.append(tool_msg)
            if bad_calls >= 2:
                min_tier += 1  # escalate: the cheaper model cannot produce valid tool calls
                bad_calls = 0

    def _stronger_exists(self, request: ModelRequest, role: Role, scope: MemberScope, private: bool,
                         needs: frozenset[str], routed: Routed) -> bool:
        """Whether asking one tier up would reach another model (routing decided without sending anything)."""
        tier = self._s.config.all_models()[routed.route.model].tier
        route = self._s.router.decide(request, role=role, scope=scope, private=private, needs=needs,
                                      min_tier=tier + 1)
        models = self._s.config.all_models()
        return route.model != routed.route.model and models[route.model].tier > tier

    # ---- sub-agents --------------------------------------------------------------------------------------
    async def run_subagent(self, scope: MemberScope, task: str, tools: frozenset[str], depth: int) -> str:
        """A fresh-context turn for one task with a tool subset; returns the answer text."""
        allowed = self._allowed_tools(scope) & tools
        system = await self._system(scope, delegated=False)
        messages = [ChatMessage(role="system", content=system + "\n\nYou are a sub-agent: do only this task and "
                                "answer with the result."),
                    ChatMessage(role="user", content=task, private=scope.private)]
        req = TurnRequest(scope=scope, text=task, sent_at=utcnow(), ephemeral=True, role="subagent")
        result = TurnResult(text="", private=scope.private)
        entries: list[ChatMessage] = []
        async with asyncio.timeout(self._agent_cfg.turn_timeout_s):
            await self._loop(req, messages, allowed, result, entries, None, None,
                             max_steps=min(SUBAGENT_MAX_STEPS, self._agent_cfg.max_steps), depth=depth)
        return result.text

