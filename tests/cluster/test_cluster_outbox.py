"""Two hosts' cron run ``crm notify`` at the same moment: each e-mail leaves once.

Both commands find the same waiting rows; each claims a row with
``SELECT … FOR UPDATE SKIP LOCKED`` and keeps it locked while it is sent, so
the other passes over it (app/services/notifications.py). The SMTP sink takes
a little time per message, so the two runs really overlap. ``crm alerts``
only prints what ends soon (it sends no mail), so it has nothing to claim.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.models import (
    Customer,
    CustomerStatus,
    Feedback,
    FeedbackLevel,
    FeedbackNotification,
    FeedbackStatus,
    NotificationChannel,
    NotificationState,
    Reporter,
)

from .conftest import bench_cluster

WAITING = 40
SECONDS_PER_MAIL = 0.05


class SlowInbox:
    def __init__(self):
        self.recipients: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(SECONDS_PER_MAIL)
        self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def inbox():
    handler = SlowInbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def _queue_waiting_mails(db) -> list[int]:
    customer = Customer(code="K000900", name="通知客户", status=CustomerStatus.signed)
    reporter = Reporter(customer=customer, name="店长", store="南京路店", phone="13912345678")
    item = Feedback(
        customer=customer,
        reporter=reporter,
        problem="收银机无法打印小票",
        level=FeedbackLevel.medium,
        status=FeedbackStatus.in_progress,
        created_at=datetime(2026, 3, 1, 9, 0),
        city="上海",
        store="南京路店",
    )
    long_ago = datetime.now() - timedelta(minutes=30)  # the worker that queued them died
    notices = [
        FeedbackNotification(
            feedback=item,
            channel=NotificationChannel.email,
            recipient=f"reporter{number}@example.com",
            subject=f"问题已解决 {number}",
            body="您好",
            state=NotificationState.pending,
            queued_at=long_ago,
        )
        for number in range(WAITING)
    ]
    db.add_all(notices)
    db.commit()
    return [notice.id for notice in notices]


def test_two_notify_runs_at_once_send_each_mail_once(cluster, cluster_db, inbox):
    handler, port = inbox
    ids = _queue_waiting_mails(cluster_db)
    env = {**cluster.app_env(), "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port)}
    command = [str(bench_cluster.BIN / "flask"), "--app", "run.py", "crm", "notify"]
    runs = [
        subprocess.Popen(
            command, cwd=bench_cluster.ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for _host in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs

    # Every mail arrived, none twice.
    deadline = time.monotonic() + 10
    while len(handler.recipients) < WAITING and time.monotonic() < deadline:
        time.sleep(0.1)
    counts = Counter(handler.recipients)
    assert len(counts) == WAITING and set(counts.values()) == {1}, counts.most_common(3)
    cluster_db.expire_all()
    states = cluster_db.scalars(
        select(FeedbackNotification.state).where(FeedbackNotification.id.in_(ids))
    ).all()
    assert set(states) == {NotificationState.sent}

    # Each run reports what it sent itself; together, every mail once; both took part.
    sent = [
        int(re.search(r"已发送 (\d+) 封", output).group(1)) if "已发送" in output else 0
        for output in outputs
    ]
    print(f"crm notify ×2 at once: {WAITING} waiting, sent {sent[0]} + {sent[1]}")
    assert sum(sent) == WAITING
    assert min(sent) > 0, "the two runs did not overlap: nothing was proven"
