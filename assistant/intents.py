"""Plain words that need no model: reminders, recurring jobs, "remember that ...", "forget ...", "what do you
remember about me", in English and Chinese. Dispatch asks here before a message goes to the member's agent.

Reading is deterministic and conservative: a text is taken only when it clearly is one of these (an imperative
that starts the message, read by the scheduler's own phrase parsers); questions, reported speech ("I was reminded
every weekday to ...", "he reminds me of ...") and anything unclear go to the model as before. Every answer is one
line that names what was done and how to undo it, so a misread costs one command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from assistant.errors import PermissionDenied, ScheduleError
from assistant.scheduler.phrases import Lang, detect_lang, schedule_length

if TYPE_CHECKING:
    from assistant.commands import CommandContext, CommandRegistry

__all__ = ["PlainIntent", "answer_plain_words", "answer_without_model", "read_intent"]

IntentKind = Literal["schedule", "remember", "forget", "recall"]
_MAX_CHARS = 400  # longer texts are conversation, not a command

_POLITE = re.compile(r"^(?:(?:hey|hi|ok|okay)\s+)?(?:@?bot\b[\s,:]*)?(?:(?:please|pls|kindly)\s+)?", re.I)
_POLITE_ZH = re.compile(r"^(?:请你?|麻烦你?|帮我|帮忙)+")
_REMIND = re.compile(r"^remind\s+(?:me|us|everyone|the\s+team)\b\s*", re.I)
_REMIND_ZH = re.compile(r"^(?:提醒(?:我们|我|大家|一下)?|叫我|通知(?:我们|我|大家))")
_RECURRING_EN = re.compile(r"^(?:every|each)\b", re.I)
_RECURRING_ZH = re.compile(r"^(?:每|天天|工作日)")
_REMIND_AFTER = re.compile(r"^[\s,，;；:：]*(?:and\s+)?(?:remind\s+(?:me|us|everyone|the\s+team)\b|提醒|叫我|通知)",
                           re.I)
# After a schedule with no "remind": the rest must read as an instruction, not as a statement about someone.
_NOT_AN_ORDER = re.compile(
    r"^(?:i|i'm|i've|we|we're|you|he|she|they|it|it's|there|this|that|these|those|the|a|an|my|our|your|his|her"
    r"|their|its|someone|somebody|everyone|everybody|nobody|people|is|are|was|were|am|be|been|has|have|had|do|does"
    r"|did|will|would|can|could|should|must|may|might)\b", re.I)
_NOT_AN_ORDER_ZH = re.compile(r"^(?:我|我们|你|你们|他|她|它|他们|她们|大家|有人|都|是|会|要|在|就|也|还|总)")
_REMEMBER = re.compile(r"^remember(?:\s+that\b|\s*:)\s*(?P<what>.+)$", re.I | re.S)
_REMEMBER_ZH = re.compile(r"^(?:记住|记一下|记下)[:：,，\s]*(?P<what>.+)$", re.S)
_REMEMBER_NOT = re.compile(r"^(?:time|day|night|one|guy|girl|place|movie|song|thing|when)\b", re.I)
_REMEMBER_NOT_ZH = re.compile(r"^(?:了|啦|没|不|吧|住了|下来了|得)")  # "记住了，谢谢" acknowledges; it tells nothing
_FORGET = re.compile(r"^forget\s+(?:that\s+|about\s+)?(?P<what>.+)$", re.I | re.S)
# Only the verbs of forgetting: "删掉第三段" (delete the third paragraph) is an edit for the model, not memory.
_FORGET_ZH = re.compile(r"^(?:忘掉|忘记)(?:关于)?[:：,，\s]*(?P<what>.+)$", re.S)
_FORGET_NOT = re.compile(r"^(?:it|this|that|them|everything|about\s+it|it\s+all|me|you|to)\b", re.I)
# "忘记带钥匙了" is "(I) forgot the keys", "忘记密码怎么办" a question: neither names a memory to delete.
_FORGET_NOT_ZH = re.compile(r"^(?:了|吧|它|这个|那个|掉了|带|给|说|做|写|交|关)|了$|怎么|为什么|咋")
_RECALL = re.compile(r"^(?:what|what\s+all|what\s+else)\s+do\s+you\s+(?:remember|know)\s+about\s+me\s*[?？.!]*$",
                     re.I)
_RECALL_ZH = re.compile(r"^你(?:都|还)?(?:记得|知道)(?:关于)?我(?:的)?(?:什么|哪些|些什么)(?:事|事情)?[?？。!！]*$")
_END = " \t.!。！"


@dataclass(frozen=True, slots=True)
class PlainIntent:
    """What a plain-word message asks for. ``text`` is the schedule-first text for ``schedule`` (what the
    ``/remind`` parser reads), the fact for ``remember``, the words to match for ``forget``; empty for ``recall``."""

    kind: IntentKind
    text: str
    lang: Lang


def read_intent(text: str, *, timezone: str, now: datetime) -> PlainIntent | None:
    """The plain-word command this message clearly is, or None (then the model answers)."""
    source = text.strip()
    if not source or len(source) > _MAX_CHARS or source.startswith("/"):
        return None
    lang = detect_lang(source)
    if _RECALL.match(source) or _RECALL_ZH.match(source):
        return PlainIntent("recall", "", lang)
    if source.rstrip().endswith(("?", "？")) or re.search(r"[吗嗎呢](?:[?？。!！\s]*)$", source):
        return None  # a question about reminders or memories is for the model
    body = _POLITE_ZH.sub("", _POLITE.sub("", source, count=1), count=1).strip()
    for reader in (_schedule, _remember, _forget):
        found = reader(body, lang, timezone, now)
        if found is not None:
            return found
    return None


def _schedule(body: str, lang: Lang, timezone: str, now: datetime) -> PlainIntent | None:
    lead = _REMIND.match(body) or _REMIND_ZH.match(body)
    if lead is not None:
        rest = body[lead.end():].lstrip(" ,，:：")
        if schedule_length(rest, timezone=timezone, now=now):
            return PlainIntent("schedule", rest, lang)
        moved = _trailing_schedule(rest, timezone, now)
        return PlainIntent("schedule", moved, lang) if moved else None
    length = schedule_length(body, timezone=timezone, now=now)
    if not length:
        return None
    after = body[length:].strip()
    if _REMIND_AFTER.match(after):  # "tomorrow at 3pm remind me to call Bob", "每周一上午十点提醒我交周报"
        return PlainIntent("schedule", body, lang)
    recurring = _RECURRING_ZH.match(body) if lang == "zh" else _RECURRING_EN.match(body)
    after = re.sub(r"^(?:,|，|to\b)\s*", "", after, flags=re.I)
    if lang == "en" and recurring and after and not _NOT_AN_ORDER.match(after):
        return PlainIntent("schedule", body, lang)  # "every Monday at 10 post the standup summary"
    if lang == "zh" and recurring and after and not _NOT_AN_ORDER_ZH.match(after) and "提醒" in after:
        return PlainIntent("schedule", body, lang)
    return None


def _trailing_schedule(rest: str, timezone: str, now: datetime) -> str | None:
    """'to call Bob tomorrow at 3pm' -> 'tomorrow at 3pm to call Bob': the schedule ends the text instead."""
    what = rest.rstrip(_END)
    if not re.match(r"(?:to|that|about)\b", what, re.I):
        return None  # "remind me what Bob said on Friday" asks about the past
    for match in re.finditer(r"\s+", what):
        tail = what[match.end():]
        if tail and schedule_length(tail, timezone=timezone, now=now) == len(tail):
            head = what[:match.start()].strip()
            return f"{tail} {head}" if head else None
    return None


def _remember(body: str, lang: Lang, timezone: str, now: datetime) -> PlainIntent | None:
    m = _REMEMBER.match(body) or _REMEMBER_ZH.match(body)
    if m is None:
        return None
    what = m.group("what").strip().rstrip(_END)
    if not what or _REMEMBER_NOT.match(what) or _REMEMBER_NOT_ZH.match(what):
        return None  # "remember that time we ..." is reminiscing, not an instruction
    return PlainIntent("remember", what, lang)


def _forget(body: str, lang: Lang, timezone: str, now: datetime) -> PlainIntent | None:
    m = _FORGET.match(body) or _FORGET_ZH.match(body)
    if m is None:
        return None
    what = m.group("what").strip().rstrip(_END)
    if not what or _FORGET_NOT.match(what) or _FORGET_NOT_ZH.search(what):
        return None  # "forget it" closes a topic; it names nothing to delete
    return PlainIntent("forget", what, lang)


async def answer_without_model(ctx: CommandContext, commands: CommandRegistry) -> str | None:
    """The answer to an addressed message that needs no model: a plain-word command, or (with only the bundled
    model, its runtime still building) a note saying so. None: the agent answers."""
    said = await answer_plain_words(ctx.inbound.text, ctx, commands)
    if said is not None:
        return said
    from assistant.first_chat import before_model

    return await before_model(ctx)


async def answer_plain_words(text: str, ctx: CommandContext, commands: CommandRegistry) -> str | None:
    """Do what a plain-word message asks and say so in one line; None when it is not one (the model answers)."""
    if ctx.inbound.attachments:
        return None  # "remember that this is my desk" with a photo: the words alone would lose the picture
    scheduler = ctx.services.scheduler
    now = scheduler.clock.now() if scheduler is not None else datetime.now().astimezone()
    intent = read_intent(text, timezone=ctx.scope.timezone, now=now)
    if intent is None:
        return None
    if intent.kind == "schedule":
        return await _create_job(intent, ctx)
    if intent.kind == "remember":
        return await _remember_fact(intent, ctx)
    if intent.kind == "forget":
        return await commands.run("forget", intent.text, ctx)
    return await commands.run("memory", "", ctx)


async def _create_job(intent: PlainIntent, ctx: CommandContext) -> str:
    from assistant.scheduler.tables import JobKind

    zh = intent.lang == "zh"
    scheduler = ctx.services.scheduler
    if scheduler is None:
        return "定时任务已关闭（scheduler.enabled = false）。" if zh else \
            "Scheduling is turned off here (scheduler.enabled = false)."
    try:
        plan = scheduler.plan(intent.text, timezone=ctx.scope.timezone)
        job = await scheduler.create(ctx.scope, plan, what=plan.rest, kind=JobKind.REMINDER,
                                     owner_platform_id=ctx.inbound.sender_id)
    except ScheduleError as exc:
        return str(exc)
    except PermissionDenied as exc:
        return f"不允许：{exc}" if zh else f"Not allowed: {exc}"
    if zh:
        return (f"已安排任务 #{job.id}：{job.payload}，{plan.description}（{plan.timezone}）。"
                f"取消请发 /cancel {job.id}。")
    return (f"Scheduled job #{job.id}: {job.payload}, {plan.description} ({plan.timezone}). "
            f"Cancel with /cancel {job.id}.")


async def _remember_fact(intent: PlainIntent, ctx: CommandContext) -> str:
    zh = intent.lang == "zh"
    store = ctx.services.memory
    if store is None:
        return "这个助手没有开启记忆。" if zh else "Memory is turned off on this assistant."
    record_id = await store.remember(ctx.scope, intent.text, kind="fact", visibility="private")
    if zh:
        return f"记住了（#{record_id}）：{intent.text}。撤销请发 /forget {record_id}。"
    return f"Remembered (#{record_id}): {intent.text}. Undo with /forget {record_id}."
