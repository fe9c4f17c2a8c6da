"""A desk of office staff in one browser: a signed-in page per role, screenshots, axe."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prokopim_sop import Sop, Step, StepKind

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""
# What a keyboard user can reach: every visible control (a radio group is one tab stop).
# Elements are named by what they are, not by identity, so a live refresh of the page
# while the keys are pressed does not lose them.
KEYS_NAME = """(el) => {
  if (!el || el === document.body) return null;
  if (el.type === 'radio') return 'radio ' + el.name;
  return [el.tagName.toLowerCase(), el.id, el.getAttribute('name') || '',
          el.getAttribute('href') || '', (el.textContent || '').trim().slice(0, 40)].join('|');
}"""
KEYS_EXPECTED = f"""() => {{
  const name = {KEYS_NAME};
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]';
  return [...new Set([...document.querySelectorAll(selector)]
    .filter(el => !el.disabled && el.getClientRects().length > 0)
    .map(name))];
}}"""
KEYS_FOCUSED = f"""() => {{
  const el = document.activeElement;
  const name = ({KEYS_NAME})(el);
  if (name === null) return null;
  const style = getComputedStyle(el);
  const visible = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return [name, visible];
}}"""


@dataclass
class Desk:
    browser: Any
    url: str
    passwords: dict[str, str]
    axe: str
    shots: Path
    pages: dict[str, Any] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)
    saved: list[Path] = field(default_factory=list)

    async def page(self, role: str) -> Any:
        """Return a page signed in as the demo account of `role` (one context per role)."""
        if role in self.pages:
            return self.pages[role]
        context = await self.browser.new_context(base_url=self.url)
        page = await context.new_page()
        await page.goto("/login")
        await self.look(page, "sign-in")
        await page.fill("#username", role)
        await page.fill("#password", self.passwords[role])
        await page.click("button[type=submit]")
        await page.wait_for_url("**/worklist")
        self.pages[role] = page
        return page

    async def look(self, page: Any, name: str, kind: str | None = None) -> None:
        """Save a screenshot; check the page with axe-core once per kind of page."""
        path = self.shots / f"{len(self.saved):02d}-{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        self.saved.append(path)
        kind = kind or name
        if kind in self.checked:
            return
        self.checked.add(kind)
        await page.add_script_tag(content=self.axe)
        violations = await page.evaluate(AXE_RUN)
        assert violations == [], f"{name}: {violations}"
        await self.keyboard(page, name)

    async def keyboard(self, page: Any, name: str) -> None:
        """Tab through the page: every control is reached and shows where the focus is."""
        expected = set(await page.evaluate(KEYS_EXPECTED))
        reached: set[str] = set()
        unseen: set[str] = set()
        # twice round: focus may start anywhere (autofocus) and leave the page at the end
        for _ in range(2 * len(expected) + 4):
            await page.keyboard.press("Tab")
            focused = await page.evaluate(KEYS_FOCUSED)
            if focused is None:
                continue
            reached.add(focused[0])
            if not focused[1]:
                unseen.add(focused[0])
            if expected <= reached:
                break
        assert expected <= reached, f"{name}: not reachable by Tab: {expected - reached}"
        assert not unseen, f"{name}: focus not visible on {unseen}"
        await page.evaluate("document.activeElement && document.activeElement.blur()")

    async def do_step(self, case_id: str, sop: Sop, step: Step, *, reject: bool = False) -> Any:
        """Carry out `step` of the case through its form, as the step's role."""
        page = await self.page(step.role)
        await page.goto(f"/cases/{case_id}")
        await page.wait_for_selector(f"#current-step[data-step='{step.number}']")
        # locators, not element handles: a live refresh may re-render the page before typing
        fields = page.locator("#step-form input[id^='in-']")
        for n in range(await fields.count()):
            name = await fields.nth(n).get_attribute("name")
            await fields.nth(n).fill(f"ref://arsip/{step.number}/{name}")
        match step.kind:
            case StepKind.DISPOSITION:
                await page.fill("#instruction", "Tindak lanjuti sesuai agenda")
            case StepKind.COORDINATE_SCHEDULE:
                await page.fill("#scheduled_at", "2030-01-15T09:00")
                await page.fill("#location", "Balai Kota")
            case StepKind.ASSIGN_STAFF:
                await page.fill("#staff_name-0", "Budi")
                # offered first: the role of the step the staff will work (so their SLA
                # clock is theirs), not the SOP's first role
                crew = sop.step(step.on_approve or step.number + 1).role
                assert await page.input_value("#staff_role-0") == crew
            case StepKind.RECORD | StepKind.COVER | StepKind.EDIT:
                await page.fill("#files", f"ref://{case_id}/step{step.number}.mp4")
            case StepKind.REVIEW:
                await page.check("#decision-reject" if reject else "#decision-approve")
                if reject:
                    await page.fill("#reason", f"Perbaiki (langkah {step.number})")
            case _:
                pass
        await self.look(page, f"step-{step.number}-{step.kind.value}", kind=f"case-{step.kind}")
        await page.click("#step-form button[type=submit]")
        await page.wait_for_selector(".notice, #problem")
        problem = await page.query_selector("#problem")
        assert problem is None, await problem.inner_text()
        return page
