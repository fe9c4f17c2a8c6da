"""Both SOPs from the first step to publication, entirely through the console."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from prokopim_sop import Sop, load_catalog

from .conftest import SCREENSHOTS, ConsoleSystem
from .office import Desk

# the whole system starts per module and each SOP runs a dozen forms: beyond the 120 s default
pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
CATALOG = load_catalog()
# The step's form as a person of another role could send it by hand (with a valid CSRF token).
FORGED_STEP = """async ([url, step]) => {
  const csrf = document.querySelector("input[name=csrf]").value;
  const body = new URLSearchParams({csrf, step: String(step), instruction: "saya saja"});
  const response = await fetch(url, {method: "POST", body});
  return [response.status, await response.text()];
}"""


@pytest.fixture
def desk(console_system: ConsoleSystem, browser: Any, axe_source: str, request: Any) -> Desk:
    shots = SCREENSHOTS / request.node.name
    shots.mkdir(parents=True, exist_ok=True)
    return Desk(browser, console_system.url, console_system.accounts, axe_source, shots)


async def register(desk: Desk, sop: Sop, activity: str) -> str:
    """Register a request through the form; return the new case's id."""
    first = sop.step(1)
    page = await desk.page(first.role)
    await page.goto(f"/requests/new?sop_id={sop.id}")
    await page.fill("#letter_number", "800/123/PRK")
    await page.fill("#requester", "Dinas Komunikasi")
    await page.fill("#agency", "Diskominfo")
    await page.fill("#email", "req@example.org")
    await page.fill("#subject", f"Permohonan: {activity}")
    await page.fill("#activity_name", activity)
    await page.fill("#activity_date", "2030-01-15")
    fields = page.locator("#request-form input[id^='in-']")
    for n in range(await fields.count()):
        await fields.nth(n).fill("ref://surat/800-123.pdf")
    await desk.look(page, "new-request")
    await page.click("#request-form button[type=submit]")
    await page.wait_for_url(re.compile(r".*/cases/[0-9a-f-]{36}\?done=1"))
    url: str = page.url
    return url.split("/cases/")[1].split("?")[0]


async def run_to_the_end(
    desk: Desk, sop: Sop, case_id: str, rejections: dict[int, int], start: int = 2
) -> None:
    """Walk the case on from step `start`, rejecting once at each planned review step."""
    plan = dict(rejections)
    current: int | None = start
    while current is not None:
        step = sop.step(current)
        reject = plan.get(current, 0) > 0
        if reject:
            plan[current] -= 1
        await desk.do_step(case_id, sop, step, reject=reject)
        current = step.on_reject if reject else sop.next_after(current)


async def test_bandung_from_request_to_archive_with_a_rejection_at_each_level(
    desk: Desk,
) -> None:
    sop = CATALOG.get("bdg-setda-010-2024")
    second = sop.step(2)
    # the head of section watches the worklist while the request is registered
    watcher = await desk.page(second.role)
    await watcher.goto("/worklist")
    await desk.look(watcher, "worklist-before")
    await watcher.evaluate("window.stayed = 1")  # gone if the page reloads
    case_id = await register(desk, sop, "Tapping Video Hari Jadi Kota")
    # live: the new case appears on the open worklist without a reload
    await watcher.wait_for_selector(f"tr[data-case-id='{case_id}']", timeout=20_000)
    assert await watcher.evaluate("window.stayed") == 1, "the worklist page was reloaded"
    await desk.look(watcher, "worklist-live")

    # a user of another role sees the step and cannot act on it
    outsider = await desk.page("penata-liputan")
    await outsider.goto(f"/cases/{case_id}")
    await outsider.wait_for_selector("#not-your-role")
    assert await outsider.query_selector("#step-form") is None
    await desk.look(outsider, "case-wrong-role")
    # nor by sending the step's form without it: the owning service refuses the role
    status, text = await outsider.evaluate(FORGED_STEP, [f"/cases/{case_id}/step", second.number])
    assert status == 403, text
    assert second.role in text and 'id="current-step" data-step="2"' in text

    # live: the outsider's open case page moves on when the step is done elsewhere
    await outsider.evaluate("window.stayed = 1")
    await desk.do_step(case_id, sop, second)
    await outsider.wait_for_selector("#current-step[data-step='3']", timeout=20_000)
    assert await outsider.evaluate("window.stayed") == 1, "the case page was reloaded"

    await run_to_the_end(desk, sop, case_id, {8: 1, 9: 1}, start=3)
    last = sop.steps[-1]
    archivist = await desk.page(last.archivist_role or last.role)
    await archivist.goto(f"/cases/{case_id}")
    await archivist.click("#archive-form button[type=submit]")
    await archivist.wait_for_selector("#no-step")
    timeline = await archivist.inner_text("#timeline")
    assert "recording-archived" in timeline
    assert timeline.count("draft-rejected") == 2
    files = await archivist.inner_text("#files-list")
    # the references typed into the forms: the request's letter, a later step's input
    assert "ref://surat/800-123.pdf" in files
    assert any(f"ref://arsip/{s.number}/" in files for s in sop.steps if s.inputs), files
    drafts = await archivist.inner_text("#drafts-h + table")
    assert "Perbaiki (langkah 8)" in drafts and "Perbaiki (langkah 9)" in drafts
    await desk.look(archivist, "case-archived")
    await desk.look(archivist, "case-archived", kind="case-closed")


async def test_tangerang_to_publication_and_the_office_pages(desk: Desk) -> None:
    sop = CATALOG.get("tgr-58-2025")
    head = await desk.page("kepala-bagian")
    await head.goto("/outlets")
    await head.fill("#o-name", "Radar Tangerang")
    await head.fill("#o-email", "redaksi@radar.example")
    await desk.look(head, "outlets")
    await head.click("#outlet-form button[type=submit]")
    await head.wait_for_selector("#outlets >> text=Radar Tangerang")

    case_id = await register(desk, sop, "Liputan Rapat Paripurna")
    await run_to_the_end(desk, sop, case_id, {5: 1, 6: 1})
    page = desk.pages[sop.steps[-1].role]
    # the order is stored at once; publishing's consumer posts, mails and then records
    # news-published: the case page shows it once that happened
    for _ in range(60):
        await page.goto(f"/cases/{case_id}")
        timeline = await page.inner_text("#timeline")
        if "news-published" in timeline:
            break
        await page.wait_for_timeout(500)
    assert "news-published" in timeline and timeline.count("draft-rejected") == 2
    await desk.look(page, "case-published", kind="case-closed")

    await head.goto("/search?activity=Paripurna")
    assert case_id in await head.inner_html("#results")
    await desk.look(head, "search")
    await head.goto("/sla")
    await desk.look(head, "sla-board")
    await head.goto(f"/report?sop_id={sop.id}")
    await head.wait_for_selector("#report")
    await desk.look(head, "report")
    async with head.expect_download() as download:
        await head.click("#download-csv")
    saved = Path(await (await download.value).path())
    assert "step" in (await asyncio.to_thread(saved.read_text)).splitlines()[0]
    async with head.expect_download() as download:
        await head.click("#download-html")
    saved = Path(await (await download.value).path())
    html = await asyncio.to_thread(saved.read_text)
    assert html.lstrip().lower().startswith("<!doctype html") and "<table" in html
    assert html.count("</tr>") == 1 + len(sop.steps)  # the header and a row per step
    await head.goto("/lang/en?next=/worklist")
    assert "My worklist" in await head.inner_text("h1")
    await desk.look(head, "worklist-english")
