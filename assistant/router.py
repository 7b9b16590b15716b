"""The router: the one place every outbound model request passes, on every path (chat, tools, sub-agents,
scheduled jobs, heartbeat, compaction, memory extraction).

For each call it decides, in this order: is the request private (flags, then detectors over every message, then
optionally the local model's opinion)? Which tier and abilities does it need? Which model is cheapest for that,
within budget? It then walks the fallback chain, records every attempt in ``model_calls``, and right before each
provider call checks once more that nothing private is about to leave for a cloud model (``guard_outbound``).
Private requests only ever see local models: as first choice, as fallback, on error and when a role is pinned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from sqlalchemy import insert

from assistant.clock import Clock, SystemClock
from assistant.config import Config, ModelConfig, Role
from assistant.difficulty import HARD_TIER, OutcomeMemory, estimate, focus_text
from assistant.errors import (
    ContextOverflow,
    NoLocalModel,
    PrivacyViolation,
    ProviderAuthError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from assistant.messages import ChatKind, MemberScope
from assistant.privacy import KIND_LABELS, REDACTABLE_KINDS, Finding, second_opinion
from assistant.providers.base import ChatMessage, ModelProvider, ModelRequest, ModelResponse
from assistant.redaction import Redaction, can_redact, redact, restore
from assistant.sensitivity import Judge, Verdict
from assistant.storage.db import Database
from assistant.storage.tables import ModelCall, table_of
from assistant.usage import BudgetState, budget_state, call_cost

__all__ = ["MODAL_NEEDS", "Route", "Routed", "Router", "guard_outbound"]

log = logging.getLogger(__name__)

MODAL_NEEDS = frozenset({"vision", "audio", "video"})
# How a modality is degraded when no allowed model reads it; the caller does the converting.
_DEGRADE_HINT = {"vision": "send a description or extracted text", "audio": "send a transcript",
                 "video": "send frames or a transcript", "tools": "answer without tools"}
# Output tokens assumed when ordering models by price: prices differ mostly in output.
_PRICE_OUTPUT_WEIGHT = 0.5
_HEALTH_TIMEOUT_S = 15.0
# How often a model that could not run at start (its runtime still building) is looked for again.
_RECHECK_S = 30.0
_SECOND_OPINION_CACHE = 256


@dataclass(frozen=True, slots=True)
class Route:
    """Where one call goes and why. ``findings`` are the kinds of personal data seen ("phone", "email" ...),
    ``tier`` the quality tier the request needs, ``degraded`` the needs no allowed model meets (the caller
    converts: frames, transcript), ``chain`` the models that would be tried, in order."""

    model: str
    location: Literal["local", "cloud"]
    reason: str
    private: bool
    findings: tuple[str, ...]
    tier: int = 1
    degraded: tuple[str, ...] = ()
    chain: tuple[str, ...] = ()

    @property
    def difficulty(self) -> Literal["easy", "hard"]:
        return "hard" if self.tier >= HARD_TIER else "easy"


@dataclass(frozen=True, slots=True)
class Routed:
    response: ModelResponse
    route: Route
    cost: float


def guard_outbound(model_name: str, model: ModelConfig, *, private: bool) -> None:
    """The last check before bytes leave: a private request never goes to a cloud model, whatever path led here."""
    if private and model.location != "local":
        raise PrivacyViolation(
            f"refused to send a private request to cloud model {model_name!r}: private work stays on local models"
        )


@dataclass(frozen=True, slots=True)
class _Privacy:
    flags: tuple[str, ...]  # reasons that make the call private whatever it says
    findings: tuple[Finding, ...]
    doubt: float = 0.0  # the classifier's highest probability for what people said in it (flagged or not)

    @property
    def private(self) -> bool:
        return bool(self.flags or self.findings)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.kind for f in self.findings))

    def describe(self) -> str:
        return ", ".join([*self.flags, *(KIND_LABELS.get(k, k) for k in self.kinds)])


@dataclass(frozen=True, slots=True)
class _Plan:
    route: Route
    redaction: Redaction | None = None


@dataclass
class _Attempts:
    errors: list[str] = field(default_factory=list)
    last: ProviderError | None = None


_INSERT_CALL = insert(table_of(ModelCall))
# What a unit of a request is, for the privacy scan: words someone said or wrote ("said"), a recalled memory line
# ("recalled") or the operator's setup, the system prompt ("setup").
Source = Literal["said", "recalled", "setup"]
# Blocks that move by a line or two from one turn to the next, each line one whole message or memory record, and
# how their lines are read: a group transcript line is someone's words ("said"); a recalled memory line ("recalled")
# was judged when it was stored, and that verdict comes with the message (its ``private`` flag).
_LINE_BLOCKS: tuple[tuple[str, str, Source], ...] = (("<group-transcript>\n", "\n</group-transcript>", "said"),
                                                    ("<memory>\n", "\n</memory>", "recalled"))


def _split_transcript(text: str) -> Iterator[tuple[Source, str]]:
    """One text in pieces that repeat from call to call, so the detector's cache answers them.

    A group transcript is dozens of messages and recalled memory a dozen records; both move by a line or two from
    one turn to the next (each transcript line is one whole message, ``transcript_line``; each memory line one
    record), so they are read line by line and each line is scanned once in its life instead of the whole block
    every turn. Everything else in the text is read whole. Every character is read either way."""
    rest = text
    lines: list[tuple[Source, str]] = []
    for opening, closing, source in _LINE_BLOCKS:
        start = rest.find(opening)
        end = rest.find(closing, start + 1) if start >= 0 else -1
        if end < 0:
            continue
        lines += [(source, line) for line in rest[start + len(opening):end].split("\n")]
        rest = rest[:start] + rest[end + len(closing):]
    if rest is text:
        yield "said", text
        return
    # Stripped: the member's words then read exactly as they are stored in the session history, so the next turn
    # finds them in the cache.
    yield "said", rest.strip()
    yield from lines


def _message_units(message: ChatMessage) -> Iterator[tuple[Source, str]]:
    """What the privacy scan reads of one message: its content and every tool-call argument, transcript split,
    each piece with its source (the system prompt is the operator's "setup")."""
    for text in (message.content, *(call.arguments for call in message.tool_calls)):
        for source, unit in _split_transcript(text):
            yield ("setup" if message.role == "system" else source), unit


def _scan_units(request: ModelRequest) -> Iterator[tuple[Source, str]]:
    """Everything a request carries to the model, as the privacy scan reads it, with its source."""
    for message in request.messages:
        yield from _message_units(message)


def _unit_price(model: ModelConfig) -> float:
    return model.price_input + _PRICE_OUTPUT_WEIGHT * model.price_output


class Router:
    """Routes, sends and accounts every model call. Providers built here are closed by ``aclose``; providers
    passed in stay their owner's to close."""

    def __init__(self, config: Config, db: Database, *, providers: Mapping[str, ModelProvider] | None = None,
                 clock: Clock | None = None) -> None:
        self._config = config
        self._routing = config.routing
        self._models = config.all_models()
        self._db = db
        self._clock: Clock = clock or SystemClock()
        self._injected = providers is not None
        self._providers: dict[str, ModelProvider] = dict(providers or {})
        self._usable = tuple(n for n in self._models
                             if (n in self._providers if self._injected else self._runnable(self._models[n])))
        # The privacy detectors at the configured settings; the daemon hands this judge to everything that stores a
        # verdict (memory, attachments, the rescan), so a text routed once is judged from the same cache.
        self.judge = Judge.for_routing(self._routing)
        self._outcomes = OutcomeMemory(db)
        self._budgets: dict[int | None, BudgetState | None] = {}
        self._last_route: dict[int, Route] = {}
        self._opinions: dict[str, bool] = {}
        self._rechecked_at = time.monotonic()

    # --- public API ----------------------------------------------------------------------------------------

    async def complete(self, request: ModelRequest, *, role: Role, scope: MemberScope | None,
                       private: bool = False, needs: frozenset[str] = frozenset(), min_tier: int = 0) -> Routed:
        """Route, send and record one model call. Raises ContextOverflow (compact and retry), ProviderError when
        every model in the chain failed, PrivacyViolation if a private request ever reached a cloud model."""
        await self.refresh(scope)
        # Off the event loop: a text the n-gram classifier is unsure of is embedded (~15 ms), and other turns go on
        # meanwhile (the detector and its encoder are thread-safe).
        privacy = await asyncio.to_thread(self._assess, request, scope, private)
        plan = self._plan(request, role, scope, privacy, needs, min_tier)
        if (self._routing.privacy_second_opinion and not plan.route.private and plan.redaction is None
                and plan.route.location == "cloud" and privacy.doubt >= self._routing.privacy_second_opinion_from):
            opinion = await self._second_opinion(request, scope)
            if opinion is not None:
                privacy = _Privacy(privacy.flags, (*privacy.findings, opinion), privacy.doubt)
                plan = self._plan(request, role, scope, privacy, needs, min_tier)
        route = plan.route
        log.info("route %s -> %s (%s, tier %d, chain %s): %s", role, route.model, route.location, route.tier,
                 ",".join(route.chain), route.reason)
        if scope is not None and role in ("chat", "tool_step", "subagent"):
            self._last_route[scope.member_id] = route
        return await self._send(plan, request, role, scope)

    def verdict(self, message: ChatMessage) -> Verdict:
        """The sensitivity verdict of one message as this router reads it: the same pieces and the same cache as
        the scan of the request that carried it, so storing a turn's messages scans nothing twice."""
        kinds = tuple(dict.fromkeys(f.kind for source, u in _message_units(message) for f in self._scan(source, u)))
        return Verdict(private=message.private or bool(kinds), kinds=kinds, version=self.judge.version)

    def explain(self, text: str, *, role: Role = "chat", scope: MemberScope | None = None) -> Route:
        """How ``text`` would be routed as a member's message, without sending anything. Uses the budgets and
        remembered outcomes known from the last ``refresh``/``complete``; never asks the local model."""
        return self.decide(ModelRequest(messages=(ChatMessage("user", text),)), role=role, scope=scope)

    def decide(self, request: ModelRequest, *, role: Role, scope: MemberScope | None, private: bool = False,
               needs: frozenset[str] = frozenset(), min_tier: int = 0) -> Route:
        """The route ``complete`` would take for a whole request (without the optional second opinion), sending
        nothing. Pure and synchronous: the per-call cost of routing."""
        privacy = self._assess(request, scope, private)
        return self._plan(request, role, scope, privacy, needs, min_tier).route

    async def feedback(self, scope: MemberScope, text: str, *, ok: bool) -> None:
        """A member's verdict on the answer to ``text``: when wrong, similar requests start one tier higher."""
        await self._outcomes.load()
        last = self._last_route.get(scope.member_id)
        tier = self._models[last.model].tier if last is not None and last.model in self._models else \
            estimate(ModelRequest(messages=(ChatMessage("user", text),))).tier
        await self._outcomes.record(scope.member_id, text, model=last.model if last else "", tier=tier, ok=ok)
        log.info("feedback from member %d: answer %s at tier %d", scope.member_id, "ok" if ok else "wrong", tier)

    def last_route(self, scope: MemberScope) -> Route | None:
        """The route of this member's last chat turn (what "that answer was wrong" refers to)."""
        return self._last_route.get(scope.member_id)

    async def health(self) -> dict[str, dict[str, object]]:
        """Per model: reachable, latency_ms, error, location, tier. Sends a one-token request to each."""
        report: dict[str, dict[str, object]] = {}
        for name, cfg in self._models.items():
            info: dict[str, object] = {"location": cfg.location, "tier": cfg.tier, "reachable": False}
            if name not in self._usable and (self._injected or cfg.provider != "local"):
                info["error"] = "no provider was given for this model"
                report[name] = info
                continue
            if cfg.provider == "local" and not self._injected:
                # Probing the in-process model would load it (hundreds of MB) just to say hello: check that it
                # can be loaded instead.
                from assistant.providers.local import local_model_problem

                problem = local_model_problem(cfg)
                info["reachable"] = problem is None
                if problem:
                    info["error"] = problem
                report[name] = info
                continue
            started = time.perf_counter()
            probe = ModelRequest(messages=(ChatMessage("user", "ping"),), max_tokens=1)
            try:
                async with asyncio.timeout(min(cfg.timeout_s, _HEALTH_TIMEOUT_S)):
                    await self._provider(name).complete(probe)
                info["reachable"] = True
            except TimeoutError:
                info["error"] = f"no answer within {min(cfg.timeout_s, _HEALTH_TIMEOUT_S):.0f} s"
            except ProviderError as exc:
                info["error"] = str(exc)
            info["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
            report[name] = info
        return report

    async def refresh(self, scope: MemberScope | None = None) -> None:
        """Load remembered outcomes and this member's budget state (``explain`` uses what was loaded last)."""
        await self._outcomes.load()
        self._pick_up_built_models()
        member_id = scope.member_id if scope is not None else None
        self._budgets[member_id] = await budget_state(
            self._db, self._config.budgets, member_id, now=self._clock.now(), timezone=self._config.team.timezone
        )

    def _pick_up_built_models(self) -> None:
        """An in-process model whose runtime was still building when this router began (``scripts/start.sh``
        builds llama-cpp-python in the background) joins once it can run; looked at every
        ``_RECHECK_S`` at most, and only while such a model is missing."""
        if self._injected or len(self._usable) == len(self._models):
            return
        now = time.monotonic()
        if now - self._rechecked_at < _RECHECK_S:
            return
        self._rechecked_at = now
        ready = [n for n in self._models if n not in self._usable and self._runnable(self._models[n])]
        if ready:
            log.info("model(s) %s can run now: routing to them", ", ".join(ready))
            self._usable = tuple(n for n in self._models if n in self._usable or n in ready)

    def prepare(self) -> None:
        """Build every usable model's provider now rather than on its first call: an HTTP provider's client (its
        TLS context and connection pool) took the first reply after a start about 0.3 s longer than the rest. An
        in-process model still loads its weights on first use."""
        for name in self._usable:
            self._provider(name)

    async def aclose(self) -> None:
        if self._injected:
            return
        providers, self._providers = self._providers, {}
        for provider in providers.values():
            await provider.aclose()

    # --- decision ------------------------------------------------------------------------------------------

    def _scan(self, source: Source, text: str) -> tuple[Finding, ...]:
        # The sentence-vector stage is for what people say. The system prompt is the operator's setup (persona,
        # instructions, skills), the same in every request, and a recalled memory line was judged by the whole
        # detector when it was stored (its verdict rides on the message's ``private`` flag): patterns and n-grams
        # read those (they would otherwise cost a dozen embeddings in every new process before its first reply).
        return self.judge.detector(quick=source != "said").scan(text)

    def _assess(self, request: ModelRequest, scope: MemberScope | None, explicit: bool) -> _Privacy:
        flags: list[str] = []
        if explicit:
            flags.append("marked private by caller")
        if scope is not None:
            if scope.private:
                flags.append("member or chat marked private")
            if f"{scope.channel}:{scope.chat_id}" in self._routing.private_chats:
                flags.append("chat in routing.private_chats")
            member_keys = {f"member:{scope.member_id}"}
            if scope.chat_kind is ChatKind.DIRECT:
                member_keys.add(f"{scope.channel}:{scope.chat_id}")
            if member_keys & set(self._routing.private_members):
                flags.append("member in routing.private_members")
        units = list(_scan_units(request))
        findings = tuple(f for source, text in units for f in self._scan(source, text))
        doubt = 0.0
        if self._routing.privacy_second_opinion:  # only the second opinion asks how unsure the classifier was
            said = self.judge.detector()  # its cache: what people said was just scanned by the whole detector
            doubt = max((said.doubt(text) for source, text in units if source == "said"), default=0.0)
        # A message stored as sensitive (memory, history, a tool result) whose text the detector now finds nothing
        # in was judged so for a reason outside the text (said where everything stays local): it still counts.
        if any(m.private and not any(self._scan(*unit) for unit in _message_units(m)) for m in request.messages):
            flags.append("local-only memory, history or tool result")
        return _Privacy(tuple(flags), findings, doubt)

    def _redaction_for(self, scope: MemberScope | None) -> bool:
        """Redaction is on for everyone, or for this member or chat (``routing.redaction_members``/``_chats``)."""
        if self._routing.redaction:
            return True
        if scope is None:
            return False
        keys = {f"member:{scope.member_id}", f"{scope.channel}:{scope.chat_id}"}
        return bool(keys & set(self._routing.redaction_members) or keys & set(self._routing.redaction_chats))

    @staticmethod
    def _runnable(model: ModelConfig) -> bool:
        """An in-process model whose runtime or weights are missing is no model to route to (the router would
        otherwise keep private work for it and fail every time); a server model may come up later."""
        if model.provider != "local":
            return True
        from assistant.providers.local import local_model_problem

        return local_model_problem(model) is None

    def local_models(self) -> tuple[str, ...]:
        """The local models this router may use: where private work can go."""
        return tuple(n for n in self._usable if self._models[n].location == "local")

    def _plan(self, request: ModelRequest, role: Role, scope: MemberScope | None, privacy: _Privacy,
              needs: frozenset[str], min_tier: int) -> _Plan:
        difficulty = estimate(request, role=role)
        tier = max(difficulty.tier, min_tier)
        notes: list[str] = []
        if min_tier > difficulty.tier:
            notes.append(f"escalated: caller asked for tier {min_tier}")
        if role in ("chat", "tool_step", "subagent"):
            remembered = self._outcomes.required_tier(focus_text(request))
            if remembered is not None and remembered > tier:
                tier = remembered
                notes.append(f"escalated: a similar request was answered wrong at tier {remembered - 1}")
        tier = min(tier, 3)
        wanted = set(needs) | ({"tools"} if request.tools else set())
        if difficulty.long_context:
            wanted.add("long_context")

        private = privacy.private
        redaction: Redaction | None = None
        head = f"private: {privacy.describe()}" if private else difficulty.describe()
        if private and not privacy.flags and self._redaction_for(scope) and can_redact(privacy.findings):
            redaction = self._redacted(request)
            if redaction is not None:
                private = False
                head = f"redacted: {privacy.describe()}; {difficulty.describe()}"

        allowed = [n for n in self._usable if not private or self._models[n].location == "local"]
        if not allowed and private:
            raise NoLocalModel(
                f"this request must stay on this machine ({privacy.describe()}) and no local model is configured: "
                "add one (`teamclaw onboard` finds Ollama and LM Studio) or turn on redaction",
                kinds=privacy.kinds, flags=privacy.flags)
        if not allowed:
            raise ProviderUnavailable("no model is configured: add one under [models] (see `teamclaw onboard`)")
        budget = self._budgets.get(scope.member_id if scope is not None else None)
        first, pick_notes, degraded = self._pick(allowed, tier, wanted, difficulty.tokens,
                                                 cheapest=bool(budget and budget.over and not private))
        pinned = self._routing.roles.get(role)
        if pinned is not None:
            if pinned in allowed:
                first, pick_notes = pinned, [f"pinned: {role} -> {pinned}"]
            elif private and pinned in self._models:
                pick_notes.append(f"pinned cloud model {pinned} overridden to local")
        if budget is not None and not private:
            if budget.over:
                notes.append(f"{budget.describe()} -> cheapest model")
            elif budget.warn:
                notes.append(budget.describe())
                log.warning("%s for member %s", budget.describe(), scope.member_id if scope else "(team)")
        notes.extend(pick_notes)
        notes.extend(f"degrade: no allowed model has {d}; {_DEGRADE_HINT.get(d, 'convert it')}" for d in degraded)
        chain = self._chain(first, role, allowed, tier, wanted)
        route = Route(model=first, location=self._models[first].location, reason="; ".join([head, *notes]),
                      private=private, findings=privacy.kinds, tier=tier, degraded=degraded, chain=chain)
        return _Plan(route, redaction)

    def _redacted(self, request: ModelRequest) -> Redaction | None:
        """The request with placeholders, or None when a rescan still finds something (then it stays local)."""
        redaction = redact(request, self.judge.detector().scan)
        leftover = [f for source, text in _scan_units(redaction.request) for f in self._scan(source, text)
                    if f.kind in REDACTABLE_KINDS]
        return None if leftover else redaction

    def _able(self, name: str, wanted: set[str]) -> bool:
        return wanted <= set(self._models[name].abilities)

    def _pick(self, allowed: list[str], tier: int, wanted: set[str], tokens: int, *,
              cheapest: bool) -> tuple[str, list[str], tuple[str, ...]]:
        """(model, notes, degraded needs). Cheapest model with the tier and abilities; fits the context first."""
        notes: list[str] = []
        hard_needs = {n for n in wanted if n != "long_context"}
        able = [n for n in allowed if self._able(n, hard_needs)]
        degraded: tuple[str, ...] = ()
        if not able:
            offered = set().union(*(set(self._models[n].abilities) for n in allowed))
            degraded = tuple(sorted(hard_needs - offered))
            hard_needs &= offered
            able = [n for n in allowed if self._able(n, hard_needs)] or list(allowed)
        fits = [n for n in able if self._models[n].context_window >= tokens] or able

        def price(n: str) -> tuple[float, int, int]:
            return _unit_price(self._models[n]), self._models[n].location != "local", self._models[n].tier

        if cheapest:
            return min(fits, key=price), notes, degraded
        strong_enough = [n for n in fits if self._models[n].tier >= tier]
        if strong_enough:
            return min(strong_enough, key=price), notes, degraded
        best = max(fits, key=lambda n: (self._models[n].tier, -_unit_price(self._models[n])))
        notes.append(f"no allowed model reaches tier {tier}: using {best} (tier {self._models[best].tier})")
        return best, notes, degraded

    def _chain(self, first: str, role: Role, allowed: list[str], tier: int, wanted: set[str]) -> tuple[str, ...]:
        """First choice, then the role's configured fallbacks, then the other allowed models by fit and price."""
        rest = sorted(allowed, key=lambda n: (not self._able(n, wanted), self._models[n].tier < tier,
                                              _unit_price(self._models[n]), -self._models[n].tier))
        ordered = [first, *(n for n in self._routing.fallbacks.get(role, []) if n in allowed), *rest]
        return tuple(dict.fromkeys(ordered))

    async def _second_opinion(self, request: ModelRequest, scope: MemberScope | None) -> Finding | None:
        text = "\n".join(m.content for m in request.messages if m.role in ("user", "tool"))[-4000:]
        if text in self._opinions:
            return Finding("model_opinion", 0, 0, 0.6) if self._opinions[text] else None

        async def ask(question: ModelRequest) -> ModelResponse:
            plan = self._plan(question, "classification", scope, _Privacy(("privacy second opinion",), ()),
                              frozenset(), 0)
            return (await self._send(plan, question, "classification", scope)).response

        try:
            finding = await second_opinion(ask, text)
        except ProviderError as exc:
            # The detectors already ran; an unreachable local model is no evidence either way.
            log.warning("privacy second opinion unavailable (%s); routing on the detectors alone", type(exc).__name__)
            return None
        if len(self._opinions) >= _SECOND_OPINION_CACHE:
            self._opinions.pop(next(iter(self._opinions)))
        self._opinions[text] = finding is not None
        return finding

    # --- sending -------------------------------------------------------------------------------------------

    def _provider(self, name: str) -> ModelProvider:
        provider = self._providers.get(name)
        if provider is None:
            from assistant.providers.factory import build_provider

            provider = self._providers[name] = build_provider(name, self._models[name])
        return provider

    async def _send(self, plan: _Plan, request: ModelRequest, role: Role, scope: MemberScope | None) -> Routed:
        route = plan.route
        attempts = _Attempts()
        for name in route.chain:
            model = self._models[name]
            redacted = plan.redaction is not None and model.location == "cloud"
            outbound = plan.redaction.request if plan.redaction is not None and redacted else request
            if outbound.tools and "tools" not in model.abilities:
                # A model that cannot call tools (the bundled 135M one) answers from the conversation alone:
                # offering it tool schemas only produces broken calls and a far longer prompt.
                outbound = replace(outbound, tools=())
            if not {"vision", "video"} & set(model.abilities) and any(m.parts for m in outbound.messages):
                # Images (a photo, video frames) only go to a model that can see; the others get the text, which
                # already carries what was extracted from them (transcript, PDF text) and says what was attached.
                outbound = replace(outbound, messages=tuple(replace(m, parts=()) for m in outbound.messages))
            reason = route.reason if name == route.model else \
                f"{route.reason}; fallback after {', '.join(attempts.errors) or route.model}"
            guard_outbound(name, model, private=route.private)
            started = time.perf_counter()
            try:
                response = await self._call(name, model, outbound)
            except ContextOverflow as exc:
                await self._record(scope, role, name, model, route, reason, started, None, exc)
                raise
            except ProviderError as exc:
                await self._record(scope, role, name, model, route, reason, started, None, exc)
                if isinstance(exc, ProviderAuthError):
                    log.error("model %s refused our credentials (%s): fix its api key; trying the next model",
                              name, exc)
                else:
                    log.warning("model %s failed (%s); trying the next model", name, type(exc).__name__)
                attempts.errors.append(f"{name}: {type(exc).__name__}")
                attempts.last = exc
                continue
            if redacted and plan.redaction is not None:
                response = restore(response, plan.redaction.originals)
            cost = await self._record(scope, role, name, model, route, reason, started, response, None)
            final = route if name == route.model else Route(
                model=name, location=model.location, reason=reason, private=route.private, findings=route.findings,
                tier=route.tier, degraded=route.degraded, chain=route.chain)
            return Routed(response=response, route=final, cost=cost)
        if route.private and any(self._models[n].location != "local" for n in self._usable):
            # Privacy is why no other model was tried: say so (with no cloud model at all, it is not the reason).
            raise NoLocalModel(
                f"this request must stay on this machine and no local model answered ({'; '.join(attempts.errors)})"
                ": check `teamclaw doctor`", kinds=route.findings, configured=True) from attempts.last
        raise ProviderUnavailable(
            f"no model could answer this {role} call ({'; '.join(attempts.errors)}): check `teamclaw doctor`"
        ) from attempts.last

    async def _call(self, name: str, model: ModelConfig, request: ModelRequest) -> ModelResponse:
        # The provider retries on its own; this outer limit only bounds a provider that hangs despite that.
        limit = model.timeout_s * (model.max_retries + 1) + 30
        try:
            async with asyncio.timeout(limit):
                return await self._provider(name).complete(request)
        except TimeoutError as exc:
            raise ProviderTimeout(f"model {name!r} gave no answer within {limit:.0f} s") from exc

    async def _record(self, scope: MemberScope | None, role: Role, name: str, model: ModelConfig, route: Route,
                      reason: str, started: float, response: ModelResponse | None,
                      error: ProviderError | None) -> float:
        usage = response.usage if response is not None else None
        cost = call_cost(model, usage) if usage is not None else 0.0
        # A Core insert: the ORM unit of work costs more than the row on this hot path.
        row = dict(
            member_id=scope.member_id if scope is not None else None, role=role, model=name,
            provider_model=(response.model if response is not None and response.model else model.model),
            location=model.location, tokens_in=usage.input_tokens if usage else 0,
            tokens_out=usage.output_tokens if usage else 0, cached_tokens=usage.cached_tokens if usage else 0,
            cost=cost, latency_ms=round((time.perf_counter() - started) * 1000, 1), route_reason=reason[:300],
            private=route.private, ok=error is None,
            error=f"{type(error).__name__}: {error}"[:2000] if error is not None else None,
            created_at=self._clock.now(),
        )
        async with self._db.transaction() as conn:
            await conn.execute(_INSERT_CALL, row)
        return cost
