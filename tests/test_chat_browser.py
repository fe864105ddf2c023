"""The customer's chat page in headless Chromium: what it checks before it sends."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from tests.clients import PortalAgent, RunningApp
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


QUEUE_PLACE = re.compile(r"You're (next in line|number (\d+) in the queue)")


async def _places_shown(page) -> list[int]:
    """Every place in the queue the chat has shown, top to bottom (each change is a line of its own)."""
    texts = await page.get_by_text(QUEUE_PLACE).all_inner_texts()
    return [
        1 if match[1] == "next in line" else int(match[2]) for text in texts for match in [QUEUE_PLACE.search(text)]
    ]


async def _new_customer(browser, app: RunningApp):
    """A customer of their own (a browser context of their own: their own cookie, so their own identity)."""
    return await open_chat(browser, app, await browser.new_context(viewport={"width": 1100, "height": 800}))


async def test_the_place_in_the_queue_never_rises_while_others_join_and_moves_down_on_a_new_line(browser, tmp_path):
    app = await RunningApp(free_port(), app_env(tmp_path, DEMO_AGENTS="false")).start()
    await app.add_agent("Quinn", ["General", "Account", "Billing", "Technical", "Shipping"])
    agent = await PortalAgent(app, "Quinn").connect()  # on duty, so the customers are given places
    try:
        asks = [
            "I'd like to talk to a person please",
            "can I speak with someone from your team?",
            "third time asking today and I'm really annoyed now, get me a human immediately",  # urgent
            "please put me through to an agent",
        ]
        customers = []
        for text in asks:
            customer = await _new_customer(browser, app)
            await ask(customer, text)
            await customer.get_by_text(QUEUE_PLACE).first.wait_for(timeout=30_000)
            customers.append(customer)
        first_places = [(await _places_shown(customer))[0] for customer in customers]
        assert first_places[0] == 1 and first_places[1:] == sorted(first_places[1:]), first_places

        first_ticket = await agent.log.wait_for("escalation_request")  # the first customer's
        assert (await agent.call("claim", {"ticket_id": first_ticket["id"]}))["ok"]
        await customers[0].get_by_text("Quinn joined the conversation").first.wait_for(timeout=15_000)
        for customer, first in zip(customers[1:], first_places[1:], strict=True):
            if first > 1:  # behind the claimed ticket: a new, lower place, in a new line at the bottom
                await customer.get_by_text(QUEUE_PLACE).nth(1).wait_for(timeout=15_000)
        await asyncio.sleep(1)  # time for any late (wrong) update to arrive
        shown = [await _places_shown(customer) for customer in customers]
        await customers[-1].screenshot(path=ARTIFACTS / "customer-queue-place-moved-down.png", full_page=True)
        for places in shown:
            assert places == sorted(places, reverse=True), f"a place rose: {shown}"
        assert all(places[-1] < places[0] for places in shown[1:] if places[0] > 1), shown
        assert [len(places) for places in shown[1:]] == [1 + (places[0] > 1) for places in shown[1:]], shown
    finally:
        await agent.close()
        await app.stop()


async def test_the_customer_leaves_the_queue_by_the_button_or_by_saying_so_and_agents_see_the_ticket_go(
    browser, tmp_path
):
    app = await RunningApp(free_port(), app_env(tmp_path, DEMO_AGENTS="false")).start()
    await app.add_agent("Wren", ["General", "Account", "Billing", "Technical", "Shipping"])
    try:
        portal, _ = await open_portal(browser, app, "Wren")
        by_button = await _new_customer(browser, app)
        await ask(by_button, "I want to talk to a person about my account")
        await by_button.get_by_text(QUEUE_PLACE).first.wait_for(timeout=30_000)
        card = portal.locator("#queue .ticket").filter(has_text="about my account")
        await card.wait_for(timeout=15_000)
        await by_button.get_by_role("button", name="I no longer need a person").click()
        await by_button.get_by_text("You've left the queue").first.wait_for(timeout=15_000)
        await card.wait_for(state="detached", timeout=15_000)
        assert await by_button.get_by_role("button", name="I no longer need a person").count() == 0

        by_saying = await _new_customer(browser, app)
        await ask(by_saying, "can I speak to someone about my Hub delivery")
        await by_saying.get_by_text(QUEUE_PLACE).first.wait_for(timeout=30_000)
        card = portal.locator("#queue .ticket").filter(has_text="Hub delivery")
        await card.wait_for(timeout=15_000)
        await ask(by_saying, "actually forget it, I'll sort it myself. where do I find my tracking number?")
        await by_saying.get_by_text("You've left the queue").first.wait_for(timeout=15_000)
        await by_saying.get_by_text("Tracking Your Northwind Hub Order").first.wait_for(timeout=30_000)
        await card.wait_for(state="detached", timeout=15_000)
        await by_saying.screenshot(path=ARTIFACTS / "customer-left-the-queue.png", full_page=True)
    finally:
        await app.stop()


async def test_new_chat_while_an_agent_holds_the_conversation_keeps_it_reachable_and_joins_it(browser, tmp_path):
    app = await RunningApp(free_port(), app_env(tmp_path, DEMO_AGENTS="false")).start()
    await app.add_agent("Odile", ["General", "Account", "Billing", "Technical", "Shipping"])
    agent = await PortalAgent(app, "Odile").connect()
    try:
        customer = await _new_customer(browser, app)
        await ask(customer, "I need a person to look at my refund")
        ticket = await agent.log.wait_for("escalation_request")
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        await customer.get_by_text("Odile joined the conversation").first.wait_for(timeout=15_000)

        await customer.locator("#new-chat-button").last.click()  # the header's (the hidden sidebar has one too)
        dialog = customer.locator("#new-chat-dialog")
        await dialog.wait_for(timeout=15_000)
        assert "that stays open" in await dialog.inner_text()  # not "your history will be cleared"
        await customer.click("#confirm")
        await customer.get_by_text("You're still in a conversation with Odile").first.wait_for(timeout=30_000)
        await ask(customer, "I want to talk to a human about my refund, it's been two weeks")
        await customer.get_by_text("already have a conversation open with Odile").first.wait_for(timeout=30_000)
        heard = await agent.log.wait_for("customer_message", lambda e: "two weeks" in e["content"])
        assert heard["ticket_id"] == ticket["id"]  # the open ticket got it: no second ticket
        assert len(agent.log.named("escalation_request")) == 1
        await customer.screenshot(path=ARTIFACTS / "customer-new-chat-with-an-open-ticket.png", full_page=True)

        link = customer.get_by_role("link", name="Continue that conversation").last
        if await link.get_attribute("target") == "_blank":  # Chainlit opens a message's links in a new tab
            async with customer.context.expect_page() as opened:
                await link.click()
            earlier = await opened.value
        else:
            await link.click()
            earlier = customer
        await earlier.wait_for_url(f"**/thread/{ticket['thread_id']}", timeout=15_000)
        await earlier.get_by_text("You're chatting with Odile").first.wait_for(timeout=30_000)  # it goes on there
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "Refund is on its way."}))["ok"]
        await earlier.get_by_text("Refund is on its way.").first.wait_for(timeout=15_000)
        await ask(earlier, "thank you!")
        toast = earlier.locator("[data-sonner-toast]").filter(has_text="Delivered to Odile")
        await toast.wait_for(timeout=15_000)
        await earlier.wait_for_timeout(800)  # the toast slides in
        header = await earlier.locator("#header").bounding_box()
        shown = await toast.bounding_box()
        assert header and shown and shown["y"] >= header["y"] + header["height"], (header, shown)  # not over it
        assert (await agent.call("resolve", {"ticket_id": ticket["id"]}))["ok"]
        await earlier.get_by_text("How did we do?").first.wait_for(timeout=15_000)
        stars = earlier.locator("button[data-ee-stars]")
        await stars.first.wait_for(timeout=15_000)
        assert await stars.count() == 5
        await earlier.wait_for_timeout(500)  # the buttons' colour transition
        assert await stars.first.evaluate("(b) => getComputedStyle(b).color") == "rgb(180, 83, 9)"  # not grey text
    finally:
        await agent.close()
        await app.stop()


async def _times_shown(page) -> dict[str, str]:
    return await page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-step-type] > time.ee-time')].map((time) =>
            [time.parentElement.querySelector('[id^="step-"]').id, time.dateTime + ' ' + time.textContent]))"""
    )


async def test_every_message_shows_its_time_and_a_reload_shows_the_stored_one_not_the_reload_s(browser, app):
    page = await open_chat(browser, app)
    await ask(page, "How do I reset my password?")
    await page.get_by_text("Source: Resetting Your Password").first.wait_for(timeout=30_000)
    await page.wait_for_function("() => document.querySelectorAll('time.ee-time').length >= 3", timeout=15_000)
    before = await _times_shown(page)
    now = datetime.now(UTC)
    for shown in before.values():
        stamp, text = shown.split(" ", 1)
        assert abs(datetime.fromisoformat(stamp) - now) < timedelta(minutes=1)
        assert re.fullmatch(r"\d{1,2}:\d{2}( [AP]M)?", text), text  # today's: the time alone
    await page.screenshot(path=ARTIFACTS / "customer-times.png", full_page=True)

    await asyncio.sleep(3)  # a reload that showed its own moment would be 3 s off
    await page.reload()
    await page.get_by_text("Source: Resetting Your Password").first.wait_for(timeout=30_000)
    await page.wait_for_function(
        f"() => document.querySelectorAll('time.ee-time').length >= {len(before)}", timeout=15_000
    )
    after = await _times_shown(page)
    assert set(before) <= set(after)
    for step, shown in before.items():
        was, now_shown = datetime.fromisoformat(shown.split(" ")[0]), datetime.fromisoformat(after[step].split(" ")[0])
        assert abs(now_shown - was) < timedelta(seconds=1.5), (step, shown, after[step])
