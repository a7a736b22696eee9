"""Instances come and go under load: a lost database, a rolling restart, kill -9.

The load is a few signed-in clients sending list pages through HAProxy one
after another, with no retry of their own: every failure HAProxy lets through
is counted. Each test leaves the three instances up and in service.
"""

from __future__ import annotations

import time

import pytest

from .web import Client

USERS = 6


@pytest.fixture
def load(cluster):
    from .conftest import bench_cluster

    with bench_cluster.Load(cluster, users=USERS) as running:
        time.sleep(2)  # every client has a request on the way
        yield running


def test_an_instance_that_loses_the_database_answers_503_and_gets_no_traffic(cluster, db_relay):
    third = cluster.nodes[2]  # its database connections pass through db_relay
    assert cluster.health(third) == 200
    try:
        db_relay.cut()  # the third instance's host loses the database
        assert cluster.health(third) == 503
        cluster.wait_for_state(third, "DOWN", seconds=30)
        row = cluster.servers()[third.name]
        assert "503" in (row["check_status"] + row["check_code"]), row
        answers = [Client(cluster.url).get("/health") for _ in range(12)]
        assert {answer.status for answer in answers} == {200}
        assert third.name not in {answer.server for answer in answers}
        for node in cluster.nodes[:2]:
            assert cluster.health(node) == 200
    finally:
        db_relay.open()  # the database is back: checks pass, traffic returns
    cluster.wait_for_state(third, "UP", seconds=30)
    answers = [Client(cluster.url).get("/health") for _ in range(6)]
    assert third.name in {answer.server for answer in answers}


def test_a_rolling_restart_under_load_fails_no_request(cluster, load):
    began = time.monotonic()
    durations = cluster.rolling_restart()
    time.sleep(2)
    served, failed = load.count(began), load.failures(began)
    print(
        f"rolling restart of {len(durations)} instances under {USERS} clients "
        f"({', '.join(f'{s:.0f} s' for s in durations)}): {served} requests, {failed} failed"
    )
    assert served > 0 and failed == 0
    back = time.monotonic()
    time.sleep(3)
    for node in cluster.nodes:  # every instance is serving again
        assert load.count(back, node.name) > 0, node.name


def test_kill_9_under_load_fails_at_most_the_requests_in_flight(cluster, load):
    victim = cluster.nodes[1]
    killed_at = time.monotonic()
    try:
        cluster.stop_instance(victim, kill=True)
        cluster.wait_for_state(victim, "DOWN", seconds=30)
        down_at = time.monotonic()
        time.sleep(3)
        served_while_down = load.count(down_at, victim.name)
        answered_while_down, failed_while_down = load.count(down_at), load.failures(down_at)
    finally:
        cluster.start_instance(victim)
    failed, statuses = load.failures(killed_at), load.statuses(killed_at)
    print(
        f"kill -9 {victim.name} under {USERS} clients: {failed} failed of "
        f"{load.count(killed_at)} requests {statuses}; {down_at - killed_at:.1f} s until "
        f"HAProxy marked it DOWN"
    )
    # Only what was on its way to the dead instance can fail: at most one per client.
    assert failed <= USERS, statuses
    assert served_while_down == 0
    assert answered_while_down > 0 and failed_while_down == 0
    # Started again, it is taken back.
    cluster.wait_healthy(victim)
    cluster.wait_for_state(victim, "UP")
    back = time.monotonic()
    while load.count(back, victim.name) == 0 and time.monotonic() < back + 20:
        time.sleep(0.5)
    assert load.count(back, victim.name) > 0, cluster.servers()[victim.name]
    assert load.failures(back) == 0
