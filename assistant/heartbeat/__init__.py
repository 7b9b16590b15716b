"""The heartbeat: a periodic, cheap check per member that calls a model only when something needs attention."""

from __future__ import annotations

from assistant.heartbeat.checks import ActiveMember, Finding, FollowupSource, checklist_findings, in_window
from assistant.heartbeat.loop import Heartbeat, HeartbeatHost, HeartbeatState
from assistant.heartbeat.prompt import NOTHING_TO_REPORT, heartbeat_request, is_nothing
from assistant.heartbeat.tables import HeartbeatCounter, HeartbeatSeen

__all__ = [
    "NOTHING_TO_REPORT",
    "ActiveMember",
    "Finding",
    "FollowupSource",
    "Heartbeat",
    "HeartbeatCounter",
    "HeartbeatHost",
    "HeartbeatSeen",
    "HeartbeatState",
    "checklist_findings",
    "heartbeat_request",
    "in_window",
    "is_nothing",
]
