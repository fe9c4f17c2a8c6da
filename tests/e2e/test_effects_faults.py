"""Publishing killed between an effect and its record, against the running system.

The mail server SIGKILLs the publishing process the moment the second outlet's mail has
arrived (before publishing can read the 250, let alone record it). Publishing is started
again; the order is redelivered. Nothing already recorded is sent again: the website keeps
its one post, the first outlet its one mail. The second outlet's mail was in the one
window the delivery record cannot close (accepted, not yet recorded): it is sent again
with the same Message-ID, which is what receivers deduplicate on.
"""

from __future__ import annotations

import asyncio
import signal
from email import message_from_bytes, policy
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import Envelope
from prokopim_cli.flows import CaseRun, Driver, run_case
from prokopim_cli.trail import case_history
from prokopim_sop import load_catalog

from .conftest import Mailbox, System, Website

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
TANGERANG = load_catalog().get("tgr-58-2025")
OUTLETS = ("redaksi@a.example", "redaksi@b.example")


def message_ids(box: Mailbox, address: str) -> list[str]:
    return [
        str(message_from_bytes(m.original_content or b"", policy=policy.default)["Message-ID"])
        for m in box.messages
        if address in m.rcpt_tos
    ]


async def test_publishing_killed_between_a_mail_and_its_record(
    system: System, mailbox: tuple[Mailbox, int], website: Website
) -> None:
    token = system.driver.token("kepala-bagian")
    async with httpx.AsyncClient(
        base_url=system.running.urls["publishing"],
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        for n, email in enumerate(OUTLETS):
            response = await http.post("/outlets", json={"name": f"Media {n}", "email": email})
            assert response.status_code == 201, response.text

    box, _ = mailbox
    publishing = system.running.processes["publishing"]

    def kill_on_second_outlet(envelope: Envelope) -> None:
        if OUTLETS[1] in envelope.rcpt_tos and box.on_message is not None:
            box.on_message = None  # once
            publishing.send_signal(signal.SIGKILL)

    box.on_message = kill_on_second_outlet
    # the killed delivery comes back after the durable's ack_wait (30 s) plus the restart
    driver = Driver(system.running.urls, system.secret, wait_within=300.0)
    run_task = asyncio.create_task(run_case(driver, TANGERANG, activity="Rapat Kerja"))
    while publishing.poll() is None:  # until the mail server killed it
        assert not run_task.done() or run_task.exception() is None
        await asyncio.sleep(0.2)
    await asyncio.to_thread(system.restart, "publishing")
    try:
        run: CaseRun = await run_task  # waits for the publication the restarted one records
    finally:
        await driver.close()

    history = await case_history(system.database_url, run.case_id)
    types = [e.type.removeprefix("prokopim.publishing.") for e in history]
    assert types.count("publication-ordered.v1") == 1
    assert types.count("outlet-mailed.v1") == 2
    assert types.count("news-published.v1") == 1
    assert len(website.posts) == 1  # recorded before the kill: not posted again
    first, second = (message_ids(box, address) for address in OUTLETS)
    assert len(first) == 1  # recorded before the kill: not mailed again
    assert len(set(second)) == 1  # the in-doubt mail: again at most, under the same id
    report: dict[str, Any] = {
        "posts": len(website.posts),
        "mails": {a: len(message_ids(box, a)) for a in OUTLETS},
        "distinct_message_ids": {a: len(set(message_ids(box, a))) for a in OUTLETS},
    }
    print(report)
