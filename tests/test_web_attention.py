"""The dashboard's overview in a real browser: what needs attention, in one place, at a
laptop's 1366 px and at 1024 px; the queue and the replies without sideways scrolling;
and a page that keeps itself current while the desk is typing a reason.

Chromium (tests/helpers/browser.py) against the dashboard served by uvicorn, over the
desk's day filed straight into a database (tests/helpers/desk_day.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from sqlmodel import Session, select

from pipeline.storage import models as m
from pipeline.web.accounts import add_user
from pipeline.web.app import create_app
from tests.helpers.browser import SCREENSHOTS, chromium
from tests.helpers.desk_day import DESK_NOTE, FAILED_ERROR, STUCK_ERROR, DeskDay, desk_day
from tests.helpers.web import PASSWORD, USER, serve

WIDTHS = [1366, 1024]
ZONED_TIME = re.compile(r"\d\d:\d\d(:\d\d)? (EST|EDT|UTC)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@dataclass
class Desk:
    page: Page
    url: str
    day: DeskDay
    problems: list[str]

    def sign_in(self, path: str = "/") -> None:
        self.page.goto(self.url + path)
        self.page.get_by_label("User name").fill(USER)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        expect(
            self.page.get_by_role("heading", name=re.compile("^Needs attention"))
        ).to_be_visible()

    def scrolls_sideways(self) -> bool:
        return bool(
            self.page.evaluate(
                "document.documentElement.scrollWidth > document.documentElement.clientWidth"
            )
        )

    def shot(self, name: str) -> None:
        folder = SCREENSHOTS / "attention"
        folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _desk(browser: Browser, folder: Path, width: int, refresh: int) -> Iterator[Desk]:
    day = desk_day(folder, web={"refresh_seconds": refresh})
    engine = day.engine()
    add_user(engine, USER, PASSWORD)
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(20_000)
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # A CSP violation or a missing file shows up here.
        if message.type in ("error", "warning"):
            problems.append(message.text)

    try:
        with serve(create_app(day.settings, engine=engine)) as url:
            page = context.new_page()
            page.on("console", console)
            page.on("pageerror", lambda error: problems.append(str(error)))
            yield Desk(page, url, day, problems)
    finally:
        context.close()
        engine.dispose()


@pytest.fixture(params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def desk(request: pytest.FixtureRequest, browser: Browser, tmp_path: Path) -> Iterator[Desk]:
    yield from _desk(browser, tmp_path, request.param, refresh=45)


def test_the_overview_opens_with_everything_that_needs_the_desk(desk: Desk) -> None:
    """GIVEN a day with a hold by the desk, a quarantined message, a reply stuck with an
    SMTP error, a scanned cover letter and a deadline in 10 hours with missions missing
    WHEN the desk officer signs in
    THEN the overview lists each under its kind, in words, with the desk's own reason
    and the next step; the meeting whose deadline passed has its own section; every time
    carries its zone; nothing scrolls sideways."""
    page = desk.page
    desk.sign_in()
    width = page.viewport_size["width"] if page.viewport_size else 0

    attention = page.locator("section.attention")
    expect(attention.locator(".count")).to_have_text("7")
    for title in (
        "Quarantined messages (1)",
        "Held for a decision (2)",
        "Replies waiting with errors (2)",
        "Cover letters to verify by eye (1)",
        "Deadlines within 48 hours, missions missing (1)",
    ):
        expect(attention.get_by_role("heading", name=title)).to_be_visible()
    held = attention.locator("li", has=page.get_by_role("link", name="NEAR-0002"))
    expect(held).to_contain_text(f"Held by jane.doe: {DESK_NOTE}")
    expect(held.get_by_role("link", name="Open the submission")).to_have_attribute(
        "href", "/submissions/NEAR-0002"
    )
    expect(attention).to_contain_text(STUCK_ERROR)
    expect(attention).to_contain_text(FAILED_ERROR)
    expect(attention).to_contain_text("intake messages retry INTAKE-0001")
    expect(attention).to_contain_text("Meeting not named: choose one")
    expect(attention.get_by_role("link", name="Who is missing")).to_have_attribute(
        "href", "/missing?meeting=NEAR"
    )

    open_meetings = page.locator("[data-region=open-meetings]")
    passed = page.locator("[data-region=passed-meetings]")
    expect(open_meetings.locator(".meeting-code")).to_have_text(["NEAR", "LATER"])
    expect(passed.get_by_role("heading", name="Deadline passed")).to_be_visible()
    expect(passed.locator(".meeting-code")).to_have_text(["PKO-SAFETY"])
    expect(passed.locator(".countdown")).to_have_text("deadline passed")
    expect(passed).to_contain_text("Replies with errors (1)")

    assert ZONED_TIME.search(page.locator(".refreshed").inner_text())
    for text in attention.locator(".head .muted").all_inner_texts():
        assert ZONED_TIME.search(text), text
    assert not desk.scrolls_sideways()
    desk.shot(f"overview-{width}")
    assert desk.problems == []


@pytest.mark.parametrize("path", ["/submissions", "/replies"])
def test_the_queue_and_the_replies_fit_the_window(desk: Desk, path: str) -> None:
    """GIVEN long mission names, addresses, reasons in words and long subjects
    WHEN the desk opens the queue or the replies at 1366 or 1024 px
    THEN the table fits the window (no sideways scrolling), long values are cut with
    their whole text in a tooltip, and times carry their zone."""
    page = desk.page
    desk.sign_in()
    page.goto(desk.url + path)
    width = page.viewport_size["width"] if page.viewport_size else 0

    table = page.locator("table.grid.fits")
    expect(table).to_be_visible()
    assert not desk.scrolls_sideways()
    box = table.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= width
    times = table.locator("td.when").all_inner_texts()
    assert [t for t in times if t.strip() and not ZONED_TIME.search(t)] == []
    if path == "/submissions":
        expect(table).to_contain_text("Cover letter is a scan: verify by eye")
        expect(table.locator(".reason-label", has_text="Cover letter is a scan")).to_have_attribute(
            "title", "cover_letter_unverified"
        )
        expect(table).to_contain_text("Saint Vincent and the Grenadines")
    else:
        subject = table.locator("td.subject .trunc").first
        expect(subject).to_have_attribute("title", re.compile("a long subject line"))
        expect(table).to_contain_text(STUCK_ERROR)
    desk.shot(f"{path.strip('/')}-{width}")
    assert desk.problems == []


@pytest.fixture
def quick_desk(browser: Browser, tmp_path: Path) -> Iterator[Desk]:
    yield from _desk(browser, tmp_path, 1366, refresh=1)


def test_the_overview_updates_itself_and_keeps_a_half_typed_reason(quick_desk: Desk) -> None:
    """GIVEN the overview open, refreshing every second, and the desk officer halfway
    through typing why a stuck reply should be cancelled
    WHEN a colleague resends Brazil's failed reply and it goes out
    THEN the list drops it by itself and says when it refreshed, while the half-typed
    reason, its open box and the focus stay where they were."""
    desk = quick_desk
    page = desk.page
    desk.sign_in()
    attention = page.locator("section.attention")
    expect(attention.locator(".count")).to_have_text("7")
    stuck = attention.locator("li", has=page.get_by_role("link", name="NEAR-0003"))
    stuck.get_by_text("Cancel…").click()
    reason = stuck.get_by_placeholder("Why (recorded)")
    reason.fill("Told the mission by ph")
    first_refresh = page.locator("[data-region=refreshed]").inner_text()
    expect(page.locator("[data-region=refreshed]")).not_to_have_text(first_refresh)

    engine = desk.day.engine()
    try:
        with Session(engine) as session:
            reply = session.exec(
                select(m.Reply).where(m.Reply.status == m.ReplyStatus.FAILED)
            ).one()
            reply.status = m.ReplyStatus.SENT
            reply.sent_at = m.utcnow()
            session.add(reply)
            session.commit()
    finally:
        engine.dispose()

    expect(attention.locator(".count")).to_have_text("6")
    expect(attention).not_to_contain_text(FAILED_ERROR)
    expect(page.get_by_role("heading", name="Replies waiting with errors (1)")).to_be_visible()
    stuck = page.locator("section.attention li", has=page.get_by_role("link", name="NEAR-0003"))
    reason = stuck.get_by_placeholder("Why (recorded)")
    expect(reason).to_have_value("Told the mission by ph")
    expect(reason).to_be_focused()
    expect(stuck.locator("details.cancel")).to_have_attribute("open", "")
    assert ZONED_TIME.search(page.locator("[data-region=refreshed]").inner_text())
    desk.shot("overview-refreshed-while-typing")
    assert desk.problems == []
