"""Cost accounting and budgets over the ``model_calls`` table, the usage report, and the ``/usage`` command.

The router prices every attempt with ``call_cost`` and asks ``budget_state`` before it picks a model; ``teamclaw
usage`` and ``/usage`` read ``usage_report``. Money is in the team's currency, as priced per million tokens in
``[models]``; periods (day, month) start at midnight in the team's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, select

from assistant.config import BudgetConfig, ModelConfig
from assistant.providers.base import Usage
from assistant.storage.db import Database
from assistant.storage.tables import Member, ModelCall

if TYPE_CHECKING:
    from assistant.commands import CommandContext, CommandRegistry

__all__ = [
    "BudgetState",
    "UsageLine",
    "UsageReport",
    "budget_state",
    "call_cost",
    "format_report",
    "reason_group",
    "register_commands",
    "spend_query",
    "usage_report",
]

_PER_MILLION = 1_000_000
DEFAULT_REPORT_DAYS = 30


def call_cost(model: ModelConfig, usage: Usage) -> float:
    """Money one call cost: uncached input, cached input (at ``price_cached_input``) and output, per million."""
    cached = min(usage.cached_tokens, usage.input_tokens)
    fresh = usage.input_tokens - cached
    return (fresh * model.price_input + cached * model.price_cached_input
            + usage.output_tokens * model.price_output) / _PER_MILLION


def _period_starts(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Start of today and of this month in the team's time zone, as aware datetimes."""
    local = now.astimezone(ZoneInfo(timezone))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def spend_query(member_id: int | None, day: datetime, month: datetime) -> Select[Any]:
    """Spend of the member today and this month, and of the team today and this month. It reads only the calls
    since the earlier of the two starts, through ``ix_model_calls_created_at``: it runs before every model call."""
    mine = ModelCall.member_id == member_id if member_id is not None else ModelCall.member_id.is_(None)
    today = ModelCall.created_at >= day
    return select(
        func.coalesce(func.sum(case((mine & today, ModelCall.cost), else_=0.0)), 0.0),
        func.coalesce(func.sum(case((mine, ModelCall.cost), else_=0.0)), 0.0),
        func.coalesce(func.sum(case((today, ModelCall.cost), else_=0.0)), 0.0),
        func.coalesce(func.sum(ModelCall.cost), 0.0),
    ).where(ModelCall.created_at >= min(day, month))


@dataclass(frozen=True, slots=True)
class BudgetState:
    """The tightest configured budget: how much of it is spent (``ratio`` 1.0 = all)."""

    name: str  # "member daily", "team monthly" ...
    spent: float
    limit: float
    warn_ratio: float

    @property
    def ratio(self) -> float:
        return self.spent / self.limit if self.limit else 0.0

    @property
    def over(self) -> bool:
        return self.ratio >= 1.0

    @property
    def warn(self) -> bool:
        return self.ratio >= self.warn_ratio

    def describe(self) -> str:
        """"budget: member daily 82%"."""
        return f"budget: {self.name} {self.ratio:.0%}"


async def budget_state(db: Database, budgets: BudgetConfig, member_id: int | None, *, now: datetime,
                       timezone: str) -> BudgetState | None:
    """The configured budget closest to its limit for this member and the team; None when no limit is set."""
    limits = {
        "member daily": budgets.member_daily if member_id is not None else 0.0,
        "member monthly": budgets.member_monthly if member_id is not None else 0.0,
        "team daily": budgets.team_daily,
        "team monthly": budgets.team_monthly,
    }
    if not any(limits.values()):
        return None
    day, month = _period_starts(now, timezone)
    async with db.session() as session:
        member_day, member_month, team_day, team_month = (await session.execute(
            spend_query(member_id, day, month))).one()
    spent = {"member daily": member_day, "member monthly": member_month, "team daily": team_day,
             "team monthly": team_month}
    states = [BudgetState(name, float(spent[name]), limit, budgets.warn_ratio)
              for name, limit in limits.items() if limit > 0]
    return max(states, key=lambda s: s.ratio)


def reason_group(route_reason: str) -> str:
    """The head of a route reason: "private: phone number; budget ..." -> "private"."""
    head = route_reason.split(";", 1)[0].split(":", 1)[0].strip()
    return head or "unknown"


@dataclass(slots=True)
class UsageLine:
    key: str
    calls: int = 0
    failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cached_tokens: int = 0
    cost: float = 0.0

    @property
    def cache_hit_ratio(self) -> float:
        return self.cached_tokens / self.tokens_in if self.tokens_in else 0.0

    def add(self, other: UsageLine) -> None:
        self.calls += other.calls
        self.failed += other.failed
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.cached_tokens += other.cached_tokens
        self.cost += other.cost

    def as_dict(self) -> dict[str, object]:
        return {"key": self.key, "calls": self.calls, "failed": self.failed, "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out, "cached_tokens": self.cached_tokens,
                "cache_hit_ratio": round(self.cache_hit_ratio, 4), "cost": round(self.cost, 6)}


@dataclass(slots=True)
class UsageReport:
    since: datetime
    total: UsageLine = field(default_factory=lambda: UsageLine("total"))
    by_member: list[UsageLine] = field(default_factory=list)
    by_model: list[UsageLine] = field(default_factory=list)
    by_reason: list[UsageLine] = field(default_factory=list)
    by_location: list[UsageLine] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"since": self.since.isoformat(), "total": self.total.as_dict(),
                "by_member": [x.as_dict() for x in self.by_member], "by_model": [x.as_dict() for x in self.by_model],
                "by_reason": [x.as_dict() for x in self.by_reason],
                "by_location": [x.as_dict() for x in self.by_location]}


async def usage_report(db: Database, *, since: datetime, member_id: int | None = None) -> UsageReport:
    """Calls, tokens, cache hits and cost since ``since``, for one member or (``member_id`` None) the team."""
    columns = (
        func.count(), func.sum(case((ModelCall.ok.is_(False), 1), else_=0)),
        func.coalesce(func.sum(ModelCall.tokens_in), 0), func.coalesce(func.sum(ModelCall.tokens_out), 0),
        func.coalesce(func.sum(ModelCall.cached_tokens), 0), func.coalesce(func.sum(ModelCall.cost), 0.0),
    )
    query = (select(ModelCall.member_id, ModelCall.model, ModelCall.route_reason, ModelCall.location, *columns)
             .where(ModelCall.created_at >= since)
             .group_by(ModelCall.member_id, ModelCall.model, ModelCall.route_reason, ModelCall.location))
    if member_id is not None:
        query = query.where(ModelCall.member_id == member_id)
    async with db.session() as session:
        rows = (await session.execute(query)).all()
        names = {m_id: name for m_id, name in (await session.execute(select(Member.id, Member.name))).all()}
    report = UsageReport(since=since)
    groups: dict[str, dict[str, UsageLine]] = {"member": {}, "model": {}, "reason": {}, "location": {}}
    for m_id, model, reason, location, calls, failed, t_in, t_out, cached, cost in rows:
        line = UsageLine("", int(calls), int(failed or 0), int(t_in), int(t_out), int(cached), float(cost))
        member_key = names.get(m_id, f"member {m_id}") if m_id is not None else "(team jobs)"
        for group, key in (("member", member_key), ("model", model), ("reason", reason_group(reason)),
                           ("location", location)):
            groups[group].setdefault(key, UsageLine(key)).add(line)
        report.total.add(line)

    def ordered(group: str) -> list[UsageLine]:
        return sorted(groups[group].values(), key=lambda x: (-x.cost, -x.calls, x.key))

    report.by_member, report.by_model = ordered("member"), ordered("model")
    report.by_reason, report.by_location = ordered("reason"), ordered("location")
    return report


def _line_text(line: UsageLine) -> str:
    return (f"{line.key}: {line.calls} calls, {line.tokens_in:,} in / {line.tokens_out:,} out tokens, "
            f"{line.cache_hit_ratio:.0%} cached, cost {line.cost:.4f}"
            + (f", {line.failed} failed" if line.failed else ""))


def format_report(report: UsageReport, title: str) -> str:
    """The report as plain text for a chat or a terminal."""
    lines = [f"{title} since {report.since:%Y-%m-%d %H:%M} UTC", _line_text(report.total)]
    if not report.total.calls:
        return "\n".join([lines[0], "no model calls in this period"])
    for heading, group in (("by member", report.by_member), ("by model", report.by_model),
                           ("by route reason", report.by_reason), ("by location", report.by_location)):
        if len(group) > 1 or heading != "by member":
            lines.append(heading + ":")
            lines.extend("  " + _line_text(x) for x in group)
    return "\n".join(lines)


def _parse_args(args: str) -> tuple[bool, int]:
    """"/usage", "/usage 7", "/usage team", "/usage team 7" -> (team, days)."""
    team = False
    days = DEFAULT_REPORT_DAYS
    for word in args.split():
        if word.lower() in ("team", "all", "团队"):
            team = True
        elif word.isdigit() and 0 < int(word) <= 3660:
            days = int(word)
    return team, days


async def _usage_command(args: str, ctx: CommandContext) -> str:
    team, days = _parse_args(args)
    services = ctx.services
    since = services.clock.now() - timedelta(days=days)
    if team and not ctx.scope.is_admin:
        return "Only admins can see the team's usage. /usage shows your own."
    report = await usage_report(services.db, since=since, member_id=None if team else ctx.scope.member_id)
    text = format_report(report, f"{'Team' if team else 'Your'} model usage, last {days} days")
    state = await budget_state(services.db, services.config.budgets, ctx.scope.member_id, now=services.clock.now(),
                               timezone=services.config.team.timezone)
    if state is not None:
        text += f"\n{state.describe()} ({state.spent:.4f} of {state.limit:.4f})"
    return text


def register_commands(registry: CommandRegistry) -> None:
    from assistant.commands import Command

    registry.register(Command("usage", "Your model usage and cost: /usage [days]; admins: /usage team [days]",
                              _usage_command))
