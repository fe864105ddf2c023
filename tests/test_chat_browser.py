"""The customer's chat page in headless Chromium: what it checks before it sends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.clients import RunningApp
from tests.conftest import app_env, free_port
from tests.test_browser import ARTIFACTS, ask, browser, open_chat, open_portal

__all__ = ["browser"]


async def test_a_message_over_the_limit_shows_a_counter_and_is_kept_in_the_box_not_sent(browser, app):
    page = await open_chat(browser, app)
    limit = app.settings.max_message_chars
    await page.locator("#chat-input").fill("x" * (limit + 25))
    counter = page.locator("#ee-char-counter")
    await counter.wait_for(state="visible", timeout=15_000)
    assert "shorten it to send" in await counter.inner_text()
    await page.locator("#chat-input").press("Enter")
    await page.screenshot(path=ARTIFACTS / "customer-over-the-limit.png", full_page=True)
    assert len(await page.locator("#chat-input").input_value()) == limit + 25  # still there to shorten
    assert await page.get_by_text("characters long; the limit is").count() == 0  # nothing went to the server
    await page.locator("#chat-input").fill("x" * (limit - 10))
    assert (await counter.inner_text()).startswith(f"{limit - 10:,} / {limit:,}")
    await page.locator("#chat-input").fill("How do I reset my password?")
    await page.locator("#chat-input").press("Enter")
    await page.get_by_text("Resetting Your Password").first.wait_for(timeout=30_000)
    assert await counter.is_hidden()


async def test_a_message_sent_mid_stream_stops_the_answer_upstream_and_gets_its_own(browser, tmp_path, fake_llm):
    """Barge-in: Enter while the answer streams stops it, as the stop button does, and sends the message."""
    app = await RunningApp(free_port(), app_env(tmp_path, OPENAI_BASE_URL=fake_llm.url, OPENAI_API_KEY="test")).start()
    try:
        fake_llm.reset(reply=" ".join(f"word{i}" for i in range(600)), token_delay=0.02)
        customer = await open_chat(browser, app)
        await ask(customer, "How do I reset my password?")
        await customer.get_by_text("word20", exact=False).first.wait_for(timeout=30_000)
        stream = fake_llm.stream_asking("How do I reset my password?")
        fake_llm.reply = "Your Hub order is tracked from the Orders page."  # for the next request; the first streams on
        # Typed as a person types while the answer streams (Playwright's checks would wait for the page to settle).
        await customer.evaluate("() => document.getElementById('chat-input').focus()")
        await customer.keyboard.type("no wait, how do I track my Hub order?")
        streamed_before = stream.tokens_sent
        await customer.keyboard.press("Enter")

        await asyncio.wait_for(stream.closed.wait(), 10)
        assert stream.disconnected_at is not None, "the upstream stream ran on after the new message"
        assert stream.tokens_sent - streamed_before < 25, "the stream ran on for half a second or more"
        await customer.get_by_text("(stopped)").first.wait_for(timeout=15_000)
        await customer.get_by_text("no wait, how do I track my Hub order?").first.wait_for(timeout=15_000)
        await customer.get_by_text("Your Hub order is tracked from the Orders page.").first.wait_for(timeout=30_000)
        assert await customer.locator("#chat-input").input_value() == ""
        await customer.screenshot(path=ARTIFACTS / "customer-barge-in.png", full_page=True)
    finally:
        await app.stop()


async def _leave_a_message_and_get_the_reply_later(browser, app: RunningApp, told: str) -> None:
    """The customer asks for a person, is told `told`, leaves a message with an email and closes the chat;
    later an agent opens the portal, claims and replies, and the customer, back, reads the reply."""
    customer = await open_chat(browser, app)
    await ask(customer, "I need to talk to a person about my invoice")
    await customer.get_by_text(told).first.wait_for(timeout=30_000)
    await ask(customer, "it's about invoice NW-4471, you can write to me at rosa@example.com")
    await customer.screenshot(path=ARTIFACTS / f"customer-left-a-message-{told.split()[0].lower()}.png", full_page=True)
    url, context = customer.url, customer.context
    await customer.close()  # the tab; the browser keeps who they are

    await app.add_agent("Lou Later", ["General", "Billing"])
    portal, _ = await open_portal(browser, app, "Lou Later")
    card = portal.locator("#queue .ticket").filter(has_text="invoice")
    await card.first.locator("button.claim").click()
    await portal.locator("#facts", has_text="rosa@example.com").wait_for(timeout=15_000)  # the way to reach them
    await portal.locator("#reply-text").fill("Hi Rosa, invoice NW-4471 is corrected.")
    await portal.keyboard.press("Enter")

    back = await context.new_page()
    await back.goto(url)
    await back.get_by_text("Hi Rosa, invoice NW-4471 is corrected.").first.wait_for(timeout=30_000)


async def test_with_no_one_on_duty_the_customer_is_told_leaves_a_message_and_later_reads_the_reply(browser, tmp_path):
    app = await RunningApp(free_port(), app_env(tmp_path, DEMO_AGENTS="false")).start()
    try:
        await _leave_a_message_and_get_the_reply_later(browser, app, "No one from our team who handles this is online")
    finally:
        await app.stop()


async def test_outside_business_hours_the_customer_is_told_when_people_are_back_and_leaves_a_message(browser, tmp_path):
    today = datetime.now(UTC).date()
    holidays = f"{today},{today + timedelta(days=1)}"
    env = app_env(tmp_path, DEMO_AGENTS="false", BUSINESS_HOURS="Mon-Sun 00:00-23:59 UTC", HOLIDAYS=holidays)
    app = await RunningApp(free_port(), env).start()
    try:
        await _leave_a_message_and_get_the_reply_later(browser, app, "Our team is away right now")
    finally:
        await app.stop()
