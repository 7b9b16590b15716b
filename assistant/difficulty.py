"""Difficulty and needs of a model request: which quality tier it needs, and which abilities, read from the text.

The router asks ``estimate`` for every non-pinned call. Signals are cheap and deterministic (patterns compiled on
first use, no model): code, maths, planning and analysis, long-form writing, length and structure of the request,
tools used in the turn, long context. Tiers follow ``ModelConfig.tier``: 0 tiny local, 1 routine, 2 strong, 3 strongest.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from assistant.config import Role
from assistant.messages import utcnow
from assistant.providers.base import ModelRequest
from assistant.storage.db import Database
from assistant.storage.tables import Base

__all__ = [
    "HARD_TIER",
    "LONG_CONTEXT_TOKENS",
    "ROLE_BASE_TIER",
    "SIMILAR_AT",
    "Difficulty",
    "OutcomeMemory",
    "RouteOutcome",
    "estimate",
    "estimate_tokens",
    "focus_text",
    "request_signature",
    "similarity",
]

HARD_TIER = 2
# Past this many prompt tokens a request needs a model with the long_context ability (or a window that fits).
LONG_CONTEXT_TOKENS = 24_000
_LONG_REQUEST_CHARS = 600
_VERY_LONG_REQUEST_CHARS = 2_000
_MANY_TOOLS = 3

# What each role needs at least. Classification is a closed question the tiny local model answers under a
# JSON schema; everything else needs a routine model and may climb from there.
ROLE_BASE_TIER: dict[str, int] = {
    "chat": 1, "tool_step": 1, "subagent": 1, "compaction": 1, "extraction": 1, "heartbeat": 1, "classification": 0,
}
# Roles whose difficulty is read from the member's words; the others are fixed jobs with a fixed tier.
_TEXT_ROLES = frozenset({"chat", "tool_step", "subagent"})


class _Lazy:
    """A pattern compiled on its first use: the router imports this module at start, and compiling every pattern
    up front cost about 50 ms of each process's start-up, a one-shot `teamclaw chat` included."""

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self._source = source
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def _pattern(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self._source, self._flags)
        return self._compiled

    def search(self, text: str) -> re.Match[str] | None:
        return self._pattern().search(text)

    def findall(self, text: str) -> list[Any]:
        return self._pattern().findall(text)

    def sub(self, replacement: str, text: str) -> str:
        return self._pattern().sub(replacement, text)


_CJK = _Lazy(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")

_CODE_BLOCK = _Lazy(
    r"```|^\s{4,}\S.*[;:{})]\s*$|^\s*(?:def|class|import|from \S+ import|function|const|let|var|func|fn|"
    r"public|private|package|#include|SELECT|INSERT|UPDATE|DELETE|ALTER|CREATE TABLE)\b|=>|\w+\(.*\)\s*\{",
    re.MULTILINE,
)
_STACK_TRACE = _Lazy(
    r"Traceback \(most recent call last\)|\b\w*(?:Error|Exception)\b[:(]|panic:|segfault|OOMKilled|"
    r"\bat [\w.$]+\([\w.]+:\d+\)|报错|异常栈|堆栈"
)
_CODE_TASK = _Lazy(
    r"(?i)(?:\b(?:write|implement|build|create|generate|refactor|debug|fix|optimi[sz]e|review|rewrite|port|"
    r"test|parse|validate|set up|configure|deploy)\b|写|实现|开发|生成|重构|调试|修复|优化|review|改|排查|配|搭|部署)"
    r"[^\n。.!?？]{0,40}?"
    r"(?:\b(?:code|function|script|class|method|query|sql|regex|regular expression|api|endpoint|service|"
    r"pipeline|component|module|program|algorithm|schema|unit tests?|cronjob|dockerfile|yaml|bash|python|go|"
    r"rust|java|typescript|javascript|react|trie|cache|parser|cli|migration|data race|rate limiter|wrapper|"
    r"client|buffer|ci|iam|github actions|workflow|nginx|k8s|kubernetes|docker)(?![A-Za-z])|"
    r"代码|函数|脚本|类|方法|查询|SQL|正则|接口|服务|程序|算法|组件|模块|单元测试|表结构|Dockerfile|yaml|"
    r"Python|Go|Rust|Java|TypeScript|gRPC|CronJob|迁移脚本|流水线|GitHub Actions|CI|缓冲区|无锁|线程安全)"
)
_CODE_NOUN_ZH = r"代码|函数|脚本|接口|服务|程序|算法|组件|模块|表结构|流水线|SQL|CI|配置|查询"
# Chinese puts the object first: "把流水线改一下", "把这个服务拆成微服务".
_CODE_TASK_BA = _Lazy(rf"把[^\n。]{{0,20}}?(?:{_CODE_NOUN_ZH})[^\n。]{{0,6}}?(?:改|重构|优化|修|拆|迁)")
_CODE_LANGUAGE_USE = _Lazy(
    r"(?i)(?:用|in |with |using )(?:python|go|golang|rust|java|typescript|javascript|c\+\+|kotlin|swift|sql|"
    r"pandas|bash|shell)(?![A-Za-z])"
)
_INLINE_SQL = _Lazy(r"(?i)\bselect\b.{1,200}?\bfrom\b|\bupdate\b.{1,80}?\bset\b|\balter table\b")
_DEBUGGING = _Lazy(
    r"(?i)\b(?:fails?|failing|failed|broken|crash\w*|returns? [45]\d\d|\d{3} error|times? ?out|can't connect|"
    r"cannot connect|won't start|leak\w*|slow\w*)\b.{0,80}?\b(?:why|check|debug|fix|help|investigate)\b|"
    r"\bwhy\b.{0,80}?\b(?:fail\w*|slow\w*|connect|error|crash\w*|returns?|leak\w*|[45]0\d|re-?render\w*|"
    r"timeout)\b|为什么.{0,30}?(?:慢|报错|失败|挂|连不上|超时|崩|不生效|不行)|(?:挂了|报错了?|失败了).{0,20}?(?:看|查|排查|原因)"
)
# Requests that rework words the member already wrote: short work whatever the words are about.
_REWORDING = _Lazy(
    r"(?i)润色|帮我翻译|翻译成|总结一下|改得|缩短|改一下语气|^.{0,8}提醒|remind me|^.{0,12}translate|"
    r"^.{0,12}summari[sz]e|polish|rephrase|make (?:this|it) sound|shorten|proofread|fix (?:the )?grammar"
)
_MATH = _Lazy(
    r"(?i)\b(?:prove|proof|derive|derivation|integral|derivative|theorem|lemma|eigen\w*|expected value|"
    r"variance|probability that|statistical significance|sample size|complexity)\b|证明|推导|积分|导数|微分|"
    r"概率|期望值|方差|矩阵|特征值|显著性|样本量|复杂度|[∑∫√≤≥≠∀∃]|\^\d|\b\w\^\w"
)
_PLANNING = _Lazy(
    r"(?i)\b(?:design|architect\w*|roadmap|strategy|strategies|compare|comparison|trade-?offs?|analy[sz]e|"
    r"analysis|evaluate|evaluation|assess\w*|investigat\w*|recommend(?:ation)?|pros and cons|threat model|"
    r"migration plan|step[- ]by[- ]step|in detail|detailed|comprehensive|walk (?:me )?through|estimate|"
    r"calculations?|scenarios?|phases|plan (?:for|a|the|to)|(?:draft|make|create|write) (?:a |an )?(?:\w+ )?plan|"
    r"root cause|without downtime)\b|设计|架构|方案|规划|计划|对比|比较一下|做个比较|"
    r"权衡|分析|评估|调研|排查|详细|全面|步骤|优缺点|路线图|迁移|梳理|拆成|划分|不停机|"
    r"怎么划分|原因"
)
_LONG_WRITING = _Lazy(
    r"(?i)\bwrite (?:a|an|the)?\s*(?:\d[\d,]*[- ]word\s+)?(?:detailed\s+)?(?:blog|article|report|rfc|proposal|"
    r"essay|spec|prd|whitepaper|post|design doc|analysis)\b|\b\d{3,5}[- ]words?\b|"
    r"写(?:一篇|一份|篇|份)[^\n，。]{0,16}(?:文章|报告|博客|方案|规划|论文|RFC|文档|计划)|\d{3,5}\s*字"
)
_NUMBERED = _Lazy(r"(?m)^\s*(?:\d+[.)、]|[-*•])\s+\S|(?:^|\s)\d\)\s*\S")
_QUESTION = _Lazy(r"[?？]")
# Blocks the context builder wraps around the member's words: "<memory>...</memory>", "<group-transcript>...".
_CONTEXT_BLOCK = _Lazy(r"<(memory|group-transcript)>.*?</\1>", re.DOTALL)
_STAMP = _Lazy(r"^\s*\[[A-Z][a-z]{2} \d{4}-\d{2}-\d{2} \d{2}:\d{2}[^\]]*\][^:\n]{0,80}:\s*")


def estimate_tokens(text: str) -> int:
    """A fast token estimate: one token per CJK character, one per four other characters."""
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk + 3) // 4


def _weight(text: str) -> int:
    """Length in Latin-letter equivalents: a CJK character carries about as much as three letters."""
    cjk = len(_CJK.findall(text))
    return 3 * cjk + len(text) - cjk


def focus_text(request: ModelRequest) -> str:
    """The words the difficulty is read from: the member's own words in the last user message (without the
    recalled memory and group transcript blocks the context adds, and without the time stamp), else the last
    message."""
    for message in reversed(request.messages):
        if message.role == "user":
            return _STAMP.sub("", _CONTEXT_BLOCK.sub("", message.content)).strip()
    return request.messages[-1].content if request.messages else ""


def _tools_in_turn(request: ModelRequest) -> int:
    """Distinct tools called since the last user message: a turn that needed many tools is a hard turn."""
    names: set[str] = set()
    for message in reversed(request.messages):
        if message.role == "user":
            break
        names.update(call.name for call in message.tool_calls)
    return len(names)


@dataclass(frozen=True, slots=True)
class Difficulty:
    """How hard a request is: the tier it needs, the signals that said so and the prompt size."""

    tier: int
    signals: tuple[str, ...]
    tokens: int

    @property
    def hard(self) -> bool:
        return self.tier >= HARD_TIER

    @property
    def long_context(self) -> bool:
        return self.tokens > LONG_CONTEXT_TOKENS

    def describe(self) -> str:
        """"hard: code + 3 tools", "easy", "easy: classification"."""
        word = "hard" if self.hard else "easy"
        return f"{word}: {' + '.join(self.signals)}" if self.signals else word


def _text_signals(text: str) -> tuple[list[str], list[str]]:
    """(strong, weak) signals of the member's words."""
    strong: list[str] = []
    weak: list[str] = []
    if _CODE_BLOCK.search(text) or _STACK_TRACE.search(text) or _CODE_TASK.search(text) \
            or _CODE_TASK_BA.search(text) or _CODE_LANGUAGE_USE.search(text) or _INLINE_SQL.search(text):
        strong.append("code")
    elif _DEBUGGING.search(text):
        strong.append("debugging")
    if _MATH.search(text):
        strong.append("math")
    if _LONG_WRITING.search(text):
        strong.append("long-form writing")
    if _PLANNING.search(text) and not (_REWORDING.search(text) and len(text) < _LONG_REQUEST_CHARS):
        # "plan" in "what's the plan for lunch" is not planning work: short asks need a second signal.
        (strong if _weight(text) >= 30 else weak).append("planning")
    if len(text) > _VERY_LONG_REQUEST_CHARS:
        strong.append("long request")
    elif len(text) > _LONG_REQUEST_CHARS:
        weak.append("long request")
    if len(_NUMBERED.findall(text)) >= 3 or len(_QUESTION.findall(text)) >= 3:
        weak.append("several parts")
    return strong, weak


def estimate(request: ModelRequest, *, role: Role = "chat") -> Difficulty:
    """The tier ``request`` needs for ``role`` and the signals behind it. Pure, microseconds per call."""
    tokens = sum(estimate_tokens(m.content) for m in request.messages)
    base = ROLE_BASE_TIER.get(role, 1)
    signals: list[str] = []
    tier = base
    if role in _TEXT_ROLES:
        strong, weak = _text_signals(focus_text(request))
        tools = _tools_in_turn(request)
        if tools >= _MANY_TOOLS:
            weak.append(f"{tools} tools")
        signals = strong + weak
        if strong or len(weak) >= 2:
            tier = max(tier, HARD_TIER)
        if len(strong) + len(weak) >= 4:
            tier = 3
    else:
        signals = [role]
    if tokens > LONG_CONTEXT_TOKENS:
        signals.append("long context")
    return Difficulty(tier=tier, signals=tuple(signals), tokens=tokens)


# --- remembered outcomes ---------------------------------------------------------------------------------------

_WORD = _Lazy(r"[a-z0-9_]{2,}|[\u4e00-\u9fff]+")
_STOP = frozenset("the a an and or of to in on for with is are was be it this that me my you your we our can "
                  "please pls help 帮我 一下 请 我们 你 我 的 了 吗".split())
SIMILAR_AT = 0.5
_MEMORY_SIZE = 500


def request_signature(text: str) -> frozenset[str]:
    """Hashed keyword set of a request: words, and character pairs for CJK runs. Only short hashes are stored,
    so the table that remembers outcomes never holds what a member wrote."""
    tokens: set[str] = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        if "\u4e00" <= word[0] <= "\u9fff":
            tokens.update(word[i:i + 2] for i in range(max(1, len(word) - 1)))
        else:
            tokens.add(word)
    return frozenset(hashlib.blake2b(t.encode(), digest_size=4).hexdigest() for t in tokens)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two signatures."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


class RouteOutcome(Base):
    """A member's verdict on an answer ("that is wrong"): similar requests later start one tier higher."""

    __tablename__ = "route_outcomes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    signature: Mapped[list[Any]] = mapped_column(JSON, default=list)
    model: Mapped[str] = mapped_column(String(128), default="")
    tier: Mapped[int] = mapped_column(Integer, default=1)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True, slots=True)
class _Outcome:
    signature: frozenset[str]
    tier: int
    ok: bool


class OutcomeMemory:
    """The last few hundred outcomes, in memory for the router's per-call lookup and in the database for restarts."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._recent: list[_Outcome] = []
        self._loaded = False

    async def load(self) -> None:
        if self._loaded:
            return
        query = select(RouteOutcome).order_by(RouteOutcome.id.desc()).limit(_MEMORY_SIZE)
        async with self._db.session() as session:
            rows = (await session.execute(query)).scalars().all()
        self._recent = [_Outcome(frozenset(r.signature), r.tier, r.ok) for r in reversed(rows)]
        self._loaded = True

    async def record(self, member_id: int | None, text: str, *, model: str, tier: int, ok: bool) -> None:
        signature = request_signature(text)
        async with self._db.session() as session:
            session.add(RouteOutcome(member_id=member_id, signature=sorted(signature), model=model, tier=tier, ok=ok))
        self._recent.append(_Outcome(signature, tier, ok))
        del self._recent[:-_MEMORY_SIZE]

    def required_tier(self, text: str) -> int | None:
        """One above the tier that failed on the most similar earlier request, unless its latest verdict was
        "ok"; None when nothing similar is remembered."""
        signature = request_signature(text)
        best: _Outcome | None = None
        best_score = SIMILAR_AT
        for outcome in self._recent:  # oldest first: a later verdict on an equally similar request wins
            score = similarity(signature, outcome.signature)
            if score >= best_score:
                best, best_score = outcome, score
        if best is None or best.ok:
            return None
        return best.tier + 1
