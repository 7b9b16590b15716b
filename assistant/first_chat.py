"""What a chat says when only the small bundled model is there: once per member, what it can and cannot do and how
to add a real model; and, while its runtime is still being built, a one-line note instead of a model call.

Dispatch asks here (through ``assistant.intents.answer_without_model``) before a message goes to the agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.config import Config
from assistant.messages import Reply
from assistant.scheduler.phrases import detect_lang

if TYPE_CHECKING:
    from assistant.commands import CommandContext

__all__ = ["BUNDLED_NOTE_EN", "BUNDLED_NOTE_ZH", "before_model"]

BUNDLED_NOTE_EN = (
    "A word before my first answer: the only model here is the small one bundled with teamclaw (SmolLM2-135M). "
    "It runs on this machine and sends nothing out, but it is tiny: it can chat a little and fill in short "
    "structured answers, and it often gets facts, sums and instructions wrong. Reminders, recurring jobs, "
    "\"remember that ...\", \"forget ...\" and the /commands work without it (try \"remind me tomorrow at 9am to "
    "check the build\"). For real answers, add a model with `teamclaw onboard`: a local Ollama / LM Studio model or "
    "a cloud API."
)
BUNDLED_NOTE_ZH = (
    "先说明一下：这里只有 teamclaw 自带的小模型（SmolLM2-135M）。它在本机运行，不向外发送任何内容，但它很小："
    "只能简单聊几句、填写简短的结构化回答，常常答错事实、算术和指令。提醒、定期任务、“记住……”、“忘掉……”和各个 / 命令"
    "不需要模型（试试“明天上午9点提醒我检查构建”）。要得到可靠的回答，请用 `teamclaw onboard` 添加一个模型："
    "本机的 Ollama / LM Studio 模型，或云端 API。"
)


async def before_model(ctx: CommandContext) -> str | None:
    """The answer to give instead of calling the bundled model (its runtime is not there yet), or None. The first
    time a member reaches the bundled model, the note about it is queued to go out before the model's answer."""
    config: Config = ctx.services.config
    if not config.only_bundled_model():
        return None
    from assistant.providers.local_build import build_state

    state = build_state()
    if state.phase != "ready":
        return state.line()[0].upper() + state.line()[1:] + "."
    outbox = ctx.services.outbox
    if outbox is not None:
        msg = ctx.inbound
        note = BUNDLED_NOTE_ZH if detect_lang(msg.text) == "zh" else BUNDLED_NOTE_EN
        # The idempotency key is the record that it was said: the outbox stores one reply per key, ever.
        await outbox.enqueue(Reply(channel=msg.channel, chat_id=msg.chat_id, text=note, thread_id=msg.thread_id,
                                   idempotency_key=f"bundled-model-note:{ctx.scope.member_id}"),
                             ctx.scope.member_id)
    return None
