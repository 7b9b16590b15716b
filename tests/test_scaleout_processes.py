"""Two real daemon processes on one PostgreSQL: behind a load balancer of webhooks, every message answered once, one
turn per member at a time across both, and the messages of a process killed with SIGKILL taken over; with long
polling, one poller at a time, and polling taken over when the poller is killed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.reliability.scaleout_harness import ScaleoutPlan, run_scaleout
from tests.standins.postgres import PostgresServer, postgres_bin, running_postgres

PLAN = ScaleoutPlan(workers=2, members=12, groups=3, messages_per_member=4, kill_after_share=0.4,
                    model_delay_s=0.1, lease_ttl_s=2.0, deadline_s=120.0)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    assert postgres_bin() is not None, "PostgreSQL is not installed: run scripts/test.sh (apt-get install postgresql)"
    with running_postgres() as server:
        yield server


async def test_two_processes_answer_each_message_once_and_take_over_from_a_killed_one(
        postgres: PostgresServer, tmp_path: Path) -> None:
    result = await run_scaleout(PLAN, tmp_path, postgres.new_database())
    print(result.figures())
    assert result.messages == PLAN.members * PLAN.messages_per_member
    assert result.lost == 0
    assert result.duplicated == 0
    assert result.overlapping_turns == 0
    assert result.failover_s is not None  # the killed process's waiting members were answered by the other
    assert all(share > 0 for share in result.share_per_worker)


async def test_when_the_polling_process_is_killed_another_polls_and_answers_what_it_left(
        postgres: PostgresServer, tmp_path: Path) -> None:
    result = await run_scaleout(replace(PLAN, mode="polling"), tmp_path, postgres.new_database())
    print(result.figures())
    assert result.messages == PLAN.members * PLAN.messages_per_member
    assert result.lost == 0
    assert result.duplicated == 0
    assert result.overlapping_turns == 0
    assert result.failover_s is not None
    survivor = 1 - result.extra["killed_worker"]
    assert result.share_per_worker[survivor] > 0  # the standby took polling (and the turns) over
