"""Real headless Chromium on both pages: the customer's chat and the agent portal."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path

import pytest

from tests.clients import ChainlitCustomer, PortalAgent, RunningApp, escalate
from tests.conftest import CHROMIUM, TEST_FAILED, app_env, free_port, need

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
async def browser(request):
    need(os.path.exists(CHROMIUM), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        if request.node.stash.get(TEST_FAILED, False):  # what each page showed when the test failed
            pages = [page for context in launched.contexts for page in context.pages]
            for number, page in enumerate(pages):
                await page.screenshot(path=ARTIFACTS / f"failed-{request.node.name}-{number}.png", full_page=True)
        await launched.close()


async def open_chat(browser, app, context=None):
    """The chat page, once the assistant has greeted: the customer is signed in and connected."""
    context = context or await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    await page.goto(app.base_url + "/")
    await page.get_by_text("I'm the Northwind assistant").first.wait_for(timeout=30_000)
    return page


async def footer_text(page) -> str:
    """What the chat's footer says now (the page's script puts it in the footer's ::after)."""
    await page.locator(".watermark").first.wait_for(timeout=15_000)
    return await page.evaluate(
        "() => { const f = document.querySelector('.watermark'); const after = getComputedStyle(f, '::after').content;"
        " return after && after !== 'none' ? after : f.innerText; }"
    )


async def ask(page, text: str) -> None:
    await page.locator("#chat-input").fill(text)
    # Chainlit takes no message while a turn runs or the socket reconnects; a person waits too.
    await page.locator("#chat-submit:enabled").wait_for(timeout=30_000)
    await page.keyboard.press("Enter")


async def open_portal(
    browser, app, name: str, *, width: int = 1300, height: int = 850, console: list | None = None, init: str = ""
):
    """The portal page, logged in as `name` and live. `console` collects what the page logs (CSP reports too);
    `init` is a script run before the page's own (Playwright's, so outside the page's CSP)."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    if init:
        await context.add_init_script(init)
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    if console is not None:
        page.on("console", lambda message: console.append(message.text))
    await page.goto(app.base_url + "/portal")
    await page.fill("#login-name", name)
    await page.fill("#login-password", f"{name}-password")
    await page.click("#login-button")
    await page.locator("#connection", has_text="live").wait_for(timeout=15_000)
    return page, dialogs


async def test_the_customer_gets_a_streamed_answer_and_then_a_person(browser, app):
    await app.add_agent("Paige", ["General", "Account"])
    customer = await open_chat(browser, app)
    portal, dialogs = await open_portal(browser, app, "Paige")

    await ask(customer, "How do I reset my password?")
    await customer.get_by_text("Resetting Your Password").first.wait_for(timeout=30_000)
    await customer.screenshot(path=ARTIFACTS / "customer-answer.png", full_page=True)

    marker = f"case {uuid.uuid4().hex[:6]}"
    await ask(customer, f"can I talk to someone real? {marker} <img src=x onerror=alert(1)>")
    await customer.get_by_text("Connecting you to an agent").first.wait_for(timeout=30_000)
    await customer.screenshot(path=ARTIFACTS / "customer-connecting.png", full_page=True)
    assert "in the queue for a person" in await footer_text(customer)
    assert (
        await customer.locator("#readme-button").is_hidden() and await customer.locator("#user-nav-button").is_hidden()
    )
    support_line = customer.locator('[id^="step-"]').filter(has_text="Connecting you to an agent").last
    assert await support_line.get_by_role("button", name="I no longer need a person").is_visible()
    unlabeled = support_line.locator("button").filter(has_not_text=re.compile(r"\S"))
    assert await unlabeled.count() >= 2  # Chainlit's copy and rating buttons are there, and hidden
    assert [await button.is_visible() for button in await unlabeled.all()] == [False] * await unlabeled.count()

    card = portal.locator("#queue .ticket").filter(has_text=marker)
    await card.first.wait_for(timeout=15_000)  # arrived live: the portal page was never reloaded
    await portal.screenshot(path=ARTIFACTS / "portal-queue.png", full_page=True)
    await card.first.locator("button.claim").click()
    await portal.locator("#messages li.customer").first.wait_for(timeout=15_000)

    shown = await portal.locator("#messages li.customer").last.inner_text()
    assert "<img src=x onerror=alert(1)>" in shown  # shown as text
    assert await portal.locator("#messages img").count() == 0 and not dialogs

    await customer.locator("#chat-input").press_sequentially("one more thing", delay=30)
    await portal.locator("#customer-typing").wait_for(state="visible", timeout=15_000)
    await customer.locator("#chat-input").fill("")

    await portal.fill("#reply-text", "Hi, Paige here. I've got your password question.")
    await portal.click("#reply-send")
    await customer.get_by_text("Paige here").first.wait_for(timeout=15_000)
    await customer.get_by_text("Paige joined the conversation").first.wait_for(timeout=15_000)
    assert "chatting with a person" in await footer_text(customer)
    avatar = customer.locator('img[src*="/avatars/Paige"]')
    await avatar.first.wait_for(timeout=15_000)
    await customer.screenshot(path=ARTIFACTS / "customer-agent-reply.png", full_page=True)
    assert await portal.locator("#messages li.assistant strong", has_text="Resetting Your Password").count()  # **bold**

    await portal.reload()  # the agent's page comes back to the open conversation
    await portal.locator("#messages li", has_text="Paige here").first.wait_for(timeout=15_000)
    await portal.screenshot(path=ARTIFACTS / "portal-conversation.png", full_page=True)


async def test_the_conversation_survives_a_refresh_and_a_reply_sent_while_away(browser, app):
    await app.add_agent("Quinn", ["Billing", "General"])
    agent = await PortalAgent(app, "Quinn").connect()
    try:
        customer = await open_chat(browser, app)
        await ask(customer, "How do refunds work?")
        await customer.get_by_text("Refund Policy").first.wait_for(timeout=30_000)
        marker = uuid.uuid4().hex[:6]
        await ask(customer, f"I need a person about invoice INV-{marker}")
        await customer.get_by_text("Connecting you to an agent").first.wait_for(timeout=30_000)
        ticket = await agent.log.wait_for("escalation_request", lambda t: marker in str(t))
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        await customer.get_by_text("Quinn joined the conversation").first.wait_for(timeout=15_000)

        await customer.reload()
        await customer.get_by_text(f"invoice INV-{marker}").first.wait_for(timeout=30_000)
        await customer.get_by_text("You're chatting with Quinn").first.wait_for(timeout=15_000)
        context = customer.context
        await customer.close()

        assert (
            await agent.call("reply", {"ticket_id": ticket["id"], "text": f"Refund for INV-{marker} is on its way."})
        )["ok"]

        back = await context.new_page()
        await back.goto(app.base_url + "/")  # the customer comes back to the chat's plain address
        await back.get_by_text(f"Refund for INV-{marker} is on its way.").first.wait_for(timeout=30_000)
        assert "/thread/" in back.url
        assert await back.get_by_text(f"invoice INV-{marker}").count() >= 1
        assert await back.locator('img[src*="/avatars/Quinn"]').count() >= 1
        await back.screenshot(path=ARTIFACTS / "customer-after-refresh.png", full_page=True)
    finally:
        await agent.close()


async def test_the_stop_button_halts_the_answer_upstream_and_the_chat_goes_on(browser, tmp_path, fake_llm):
    app = await RunningApp(free_port(), app_env(tmp_path, OPENAI_BASE_URL=fake_llm.url, OPENAI_API_KEY="test")).start()
    try:
        fake_llm.reset(reply=" ".join(f"word{i}" for i in range(600)), token_delay=0.02)
        customer = await open_chat(browser, app)
        await ask(customer, "How do I reset my password?")
        await customer.get_by_text("word30", exact=False).first.wait_for(timeout=30_000)
        # The composer re-renders while tokens stream, and Playwright's click waits for nothing to cover the
        # button; on a loaded machine the stream could end first. The click event itself, on the button.
        await customer.locator("#stop-button").dispatch_event("click")

        stream = fake_llm.stream_asking("How do I reset my password?")
        await asyncio.wait_for(stream.closed.wait(), 10)
        assert stream.disconnected_at is not None, "the upstream stream ran on after the stop"
        assert stream.tokens_sent < 300
        await customer.get_by_text("(stopped)").first.wait_for(timeout=15_000)
        await customer.get_by_text("Task manually stopped.").wait_for(state="detached", timeout=15_000)
        await customer.screenshot(path=ARTIFACTS / "customer-stopped.png", full_page=True)

        fake_llm.reset(reply="You can reset it from the login page.")
        await ask(customer, "ok, and where do I do that?")
        await customer.get_by_text("You can reset it from the login page.").first.wait_for(timeout=30_000)

        await customer.reload()  # and the stored chat shows the stopped answer, without the notice
        await customer.get_by_text("You can reset it from the login page.").first.wait_for(timeout=30_000)
        assert await customer.get_by_text("(stopped)").count() >= 1
        assert await customer.get_by_text("Task manually stopped.").count() == 0
    finally:
        await app.stop()


async def test_a_site_that_knows_its_customer_gets_their_conversation_on_every_device(browser, tmp_path):
    app = await RunningApp(free_port(), app_env(tmp_path, CUSTOMER_ID_HEADER="X-Customer-Id")).start()
    try:
        laptop = await browser.new_context(extra_http_headers={"X-Customer-Id": "cust-4242"})
        page = await open_chat(browser, app, laptop)
        await ask(page, "How do I turn on two-factor authentication?")
        await page.get_by_text("Two-Factor Authentication").first.wait_for(timeout=30_000)

        phone = await browser.new_context(extra_http_headers={"X-Customer-Id": "cust-4242"})
        elsewhere = await phone.new_page()
        await elsewhere.goto(app.base_url + "/")
        await elsewhere.get_by_text("How do I turn on two-factor authentication?").first.wait_for(timeout=30_000)
        assert "/thread/" in elsewhere.url

        # Someone else signs in on the laptop: its cookies belong to the first customer, the header wins.
        shared = await laptop.new_page()
        await shared.set_extra_http_headers({"X-Customer-Id": "cust-9999"})
        await shared.goto(app.base_url + "/")
        await shared.get_by_text("I'm the Northwind assistant").first.wait_for(timeout=30_000)
        assert "/thread/" not in shared.url
        assert await shared.get_by_text("two-factor authentication?").count() == 0
    finally:
        await app.stop()


async def claimed_in_the_portal(browser, app, agent: str, request: str):
    """A customer asks for a person and `agent` claims the request on the portal page.

    Returns the customer's page, the agent's page, the dialogs the portal opened and the case marker."""
    await app.add_agent(agent, ["General", "Account", "Billing", "Technical"])
    customer = await open_chat(browser, app)
    portal, dialogs = await open_portal(browser, app, agent)
    marker = uuid.uuid4().hex[:6]
    await ask(customer, f"{request} (case {marker})")
    card = portal.locator("#queue .ticket").filter(has_text=marker)
    await card.first.wait_for(timeout=15_000)
    await card.first.locator("button.claim").click()
    return customer, portal, dialogs, marker


async def test_the_agent_edits_a_copilot_draft_sends_it_and_resolves_in_the_portal(browser, app):
    customer, portal, dialogs, marker = await claimed_in_the_portal(
        browser, app, "Remy", "I want a person, my password reset link fails"
    )

    await portal.locator("#copilot").wait_for(state="visible", timeout=30_000)  # the assistant's draft
    draft = await portal.locator("#draft-text").inner_text()
    assert draft.strip()
    await portal.click("#draft-use")  # into the reply box, to edit before sending
    assert (await portal.input_value("#reply-text")).replace("**", "") == draft  # the page shows **bold** as bold
    await portal.fill("#reply-text", f"Remy here: I sent you a fresh reset link for case {marker}.")
    await portal.click("#reply-send")
    await customer.get_by_text(f"I sent you a fresh reset link for case {marker}").first.wait_for(timeout=15_000)
    await portal.screenshot(path=ARTIFACTS / "portal-copilot.png", full_page=True)

    await portal.click("#resolve")
    await customer.get_by_text("How did we do?").first.wait_for(timeout=15_000)
    await customer.get_by_role("button", name="★★★★★").click()
    await customer.get_by_text("Thank you for your feedback!").first.wait_for(timeout=15_000)
    await customer.screenshot(path=ARTIFACTS / "customer-rated.png", full_page=True)
    assert not dialogs


async def test_the_customer_sees_the_agent_typing_and_is_handed_back_to_the_assistant(browser, app):
    customer, portal, _, _ = await claimed_in_the_portal(browser, app, "Noa", "please connect me with a human agent")
    await customer.get_by_text("Noa joined the conversation").first.wait_for(timeout=15_000)

    await portal.locator("#reply-text").press_sequentially("Let me check", delay=40)
    await customer.get_by_text("Noa is typing").first.wait_for(timeout=15_000)
    await portal.click("#reply-send")
    await customer.get_by_text("Let me check").first.wait_for(timeout=15_000)

    await portal.click("#hand-back")
    await customer.get_by_text("back with the assistant").first.wait_for(timeout=15_000)
    await ask(customer, "How do I change my payment method?")
    await customer.get_by_text("Changing Your Payment Method").first.wait_for(timeout=30_000)
    await customer.screenshot(path=ARTIFACTS / "customer-handed-back.png", full_page=True)


async def test_the_pages_load_nothing_from_another_host_not_even_an_image_in_a_message(browser, app):
    await app.add_agent("Remy", ["General", "Account"])
    host = app.base_url.split("//", 1)[1]
    asked: list[str] = []  # requests the page made to another host
    refused: list[str] = []  # those the page's Content-Security-Policy stopped before they left the browser

    def outside(url: str) -> bool:
        return not url.split("//", 1)[-1].startswith(host) and not url.startswith(("data:", "blob:"))

    def watch(page) -> None:
        page.on("request", lambda request: asked.append(request.url) if outside(request.url) else None)
        page.on("requestfailed", lambda request: refused.append(request.url) if request.failure == "csp" else None)

    portal, _ = await open_portal(browser, app, "Remy")
    watch(portal)
    await portal.reload()
    await portal.locator("#connection", has_text="live").wait_for(timeout=15_000)
    customer = await open_chat(browser, app)
    watch(customer)
    await customer.reload()
    await customer.get_by_text("I'm the Northwind assistant").first.wait_for(timeout=30_000)
    pixel = "http://tracker.invalid/pixel.png"
    await ask(customer, f"I want to talk to a person ![x]({pixel}) !![y]({pixel})")
    await customer.get_by_text("Connecting you to an agent").first.wait_for(timeout=30_000)
    card = portal.locator("#queue .ticket").filter(has_text="talk to a person")
    await card.first.locator("button.claim").click()
    await portal.locator("#messages li.customer").first.wait_for(timeout=15_000)
    await portal.fill("#reply-text", f"Here you go ![z]({pixel})")
    await portal.click("#reply-send")
    await customer.get_by_text("Here you go").first.wait_for(timeout=15_000)
    await customer.reload()  # and again after a reload, from the stored history
    await customer.get_by_text("Here you go").first.wait_for(timeout=30_000)
    assert await customer.locator(f'img[src="{pixel}"]').count() == 0  # shown as links, in both directions
    assert await customer.locator(f'a[href="{pixel}"]').count() >= 2
    assert "cdn.jsdelivr.net" not in " ".join(asked)  # Chainlit's KaTeX stylesheet is no longer asked for
    assert sorted(asked) == sorted(refused), asked  # anything else (the pixels) never left the browser


async def _scripted_day(app: RunningApp, agent: PortalAgent) -> list[ChainlitCustomer]:
    """Four conversations: one the assistant answers, one resolved and rated 5 by a person, one
    withdrawn from the queue, one still waiting. Returns the customers (to close)."""
    answered, resolved, withdrawn, waiting = [await ChainlitCustomer(app).connect() for _ in range(4)]
    await answered.say("How do I reset my password?")
    await answered.message_from("Assistant", "Resetting Your Password")
    ticket = await escalate(resolved, agent, "I'd like to speak to a representative")
    assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
    assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "Hi, I can help."}))["ok"]
    assert (await agent.call("resolve", {"ticket_id": ticket["id"]}))["ok"]
    prompt = await resolved.message_from("Support", "How did we do?")
    five = await resolved.log.wait_for(
        "action", lambda a: a["forId"] == prompt["id"] and a["payload"].get("rating") == 5
    )
    await resolved.click(five)
    await resolved.message_from("Support", "Thank you for your feedback")
    await escalate(withdrawn, agent, "get me a human please")
    await withdrawn.click(await withdrawn.log.wait_for("action", lambda a: a["name"] == "leave_queue"))
    await withdrawn.text_shown("You've left the queue")
    await escalate(waiting, agent, "can I talk to someone real?")
    return [answered, resolved, withdrawn, waiting]


async def _chart_total(page, canvas_id: str) -> float:
    """The sum of every value a Chart.js chart on the page draws."""
    return await page.evaluate(
        "(id) => Chart.getChart(document.getElementById(id))"
        ".data.datasets.flatMap((d) => d.data).reduce((a, b) => a + b, 0)",
        canvas_id,
    )


async def test_a_supervisor_reads_the_days_figures_and_charts_live_and_an_agent_is_refused(browser, tmp_path):
    app = await RunningApp(free_port(), app_env(tmp_path)).start()
    await app.add_agent("Vera", ["General"], supervisor=True)
    await app.add_agent("Ivo", ["General"])
    agent = await PortalAgent(app, "Ivo").connect()
    customers = await _scripted_day(app, agent)
    try:
        page, _ = await open_portal(browser, app, "Vera")
        await page.click("#reports-link")
        await page.locator("#figure-conversations", has_text="4").wait_for(timeout=15_000)
        figures = {
            name: await page.locator(f"#figure-{name}").inner_text()
            for name in ("escalations", "contained", "containment", "csat", "csat-count", "left")
        }
        assert figures == {
            "escalations": "3",
            "contained": "1",
            "containment": "25% containment",
            "csat": "5.00 / 5",
            "csat-count": "1 rating",
            "left": "1 / 0",
        }
        agents = await page.locator("#table-agents").inner_text()
        assert "Ivo" in agents and "5.00 (1)" in agents
        assert "Asked for a person\t3" in await page.locator("#table-reason").inner_text()
        assert await _chart_total(page, "chart-escalations") == 3  # drawn, with the report's data
        assert await _chart_total(page, "chart-waits") == 1  # one customer got a person
        assert await page.evaluate("Chart.getChart(document.getElementById('chart-csat')).data.datasets[0].data") == [
            0,
            0,
            0,
            0,
            1,
        ]
        assert await page.locator("#chart-escalations").evaluate("(canvas) => canvas.width > 0 && canvas.height > 0")
        await page.screenshot(path=ARTIFACTS / "reports.png", full_page=True)

        late = await ChainlitCustomer(app).connect()  # live: a new escalation shows without a reload
        customers.append(late)
        await escalate(late, agent, "I would like to talk to a person")
        await page.locator("#figure-escalations", has_text="4").wait_for(timeout=15_000)

        async with page.expect_download() as download_info:
            await page.click("#download")
        rows = Path(await (await download_info.value).path()).read_text().strip().splitlines()
        assert rows[0].startswith("ticket_id,thread_id,opened_at") and len(rows) == 1 + 4

        refused, _ = await open_portal(browser, app, "Ivo")
        assert await refused.locator("#reports-link").is_hidden()
        await refused.goto(app.base_url + "/portal/reports")
        await refused.locator("#refused", has_text="only supervisors see reports").wait_for(timeout=15_000)
        assert await refused.locator("#report").is_hidden()
    finally:
        for customer in customers:
            await customer.close()
        await agent.close()
        await app.stop()


async def test_an_auto_assigned_ticket_opens_for_the_agent_with_room_who_replies_with_enter_and_transfers_by_name(
    browser, tmp_path
):
    app = await RunningApp(free_port(), app_env(tmp_path, ASSIGNMENT="auto")).start()
    await app.add_agent("Kit", ["General"], max_chats=3)
    await app.add_agent("Hana", ["General"], max_chats=3)
    await app.add_agent("Tess", ["Technical"], max_chats=3)
    kit = await PortalAgent(app, "Kit").connect()
    tess = await PortalAgent(app, "Tess").connect()
    first, second = await ChainlitCustomer(app).connect(), await ChainlitCustomer(app).connect()
    try:
        await first.say("I want to talk to a person")
        await first.text_shown("Kit joined the conversation")  # the only agent on duty
        portal, _ = await open_portal(browser, app, "Hana")
        await second.say("can I speak to a human please")
        # Kit holds one of 3, Hana none: the ticket goes to Hana, whose page opens it.
        await second.text_shown("Hana joined the conversation")
        await portal.locator("#toast", has_text="was assigned to you").wait_for(timeout=15_000)
        await portal.locator("#messages li.customer", has_text="can I speak to a human please").wait_for(timeout=15_000)

        await portal.locator("#reply-text").press("Enter")
        await portal.locator("#toast", has_text="Write a reply first").wait_for(timeout=15_000)
        await portal.locator("#reply-text").fill("Hi, Hana here.")
        await portal.locator("#reply-text").press("Shift+Enter")
        await portal.locator("#reply-text").press_sequentially("How can I help?")
        await portal.locator("#reply-text").press("Enter")
        sent = await second.message_from("Hana", "Hana here")
        assert sent["output"].endswith("Hi, Hana here.\nHow can I help?")  # one message, two lines

        await portal.locator("#transfer-skill option[value='agent:Kit']").wait_for(state="attached", timeout=15_000)
        assert await portal.locator("#transfer-skill option[value='agent:Tess']").count() == 0  # online, not General
        await portal.select_option("#transfer-skill", "agent:Kit")
        await portal.locator("#empty", has_text="Transferred to Kit").wait_for(timeout=15_000)
        await second.text_shown("Kit joined the conversation")
        moved = await kit.log.wait_for(
            "ticket_updated", lambda t: t.get("assigned_agent") == "Kit" and t.get("thread_id") == second.thread_id
        )
        assert moved["status"] == "assigned"
    finally:
        for client in (first, second, kit, tess):
            await client.close()
        await app.stop()


def _csp_violations(console: list[str]) -> list[str]:
    return [line for line in console if "Content Security Policy" in line]


async def _boxes(page, *selectors: str) -> list[dict]:
    return [await page.locator(selector).bounding_box() for selector in selectors]


async def test_the_portal_has_three_panes_on_a_desktop_and_one_view_at_a_time_on_a_phone(browser, app):
    await app.add_agent("Wren", ["General", "Account", "Billing", "Technical"])
    wren = await PortalAgent(app, "Wren").connect()
    customer = await ChainlitCustomer(app).connect()
    console: list[str] = []
    try:
        desk, dialogs = await open_portal(browser, app, "Wren", console=console)
        marker = uuid.uuid4().hex[:6]
        ticket = await escalate(customer, wren, f"can I talk to someone real? case {marker}")
        assert (await wren.call("claim", {"ticket_id": ticket["id"]}))["ok"]  # from another tab: it opens here
        await desk.locator("#messages li.customer", has_text=marker).wait_for(timeout=15_000)
        await desk.locator("#mine .ticket", has_text=marker).wait_for(timeout=15_000)

        # Desktop: the list, the conversation and its details side by side, in the window; the page does not scroll.
        panes = await _boxes(desk, "#list-pane", "#conversation-pane", "#side-pane")
        assert all(box and box["width"] > 200 for box in panes), panes
        assert panes[0]["x"] + panes[0]["width"] <= panes[1]["x"] and panes[1]["x"] + panes[1]["width"] <= panes[2]["x"]
        assert panes[2]["x"] + panes[2]["width"] <= 1300
        assert await desk.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight")
        assert await desk.locator("#messages").evaluate("(list) => getComputedStyle(list).overflowY") == "auto"
        assert marker in await desk.locator("#brief").inner_text()
        for item in ("#note-text", "#note-add", "#reply-text", "#reply-send"):
            assert await desk.locator(item).is_visible(), item
        for back in ("#conversation-back", "#details-back", "#show-details"):  # no back buttons on a desktop
            assert await desk.locator(back).is_hidden(), back
        await desk.screenshot(path=ARTIFACTS / "portal-desktop.png")

        # A phone: one pane at a time, list → conversation → details and back again.
        phone, _ = await open_portal(browser, app, "Wren", width=390, height=844, console=console)
        card = phone.locator("#mine .ticket", has_text=marker)
        if await phone.locator("#conversation-pane").is_visible():  # it reopened the ticket the tab last had
            await phone.click("#conversation-back")
        await phone.click("#tab-mine")
        await card.wait_for(timeout=15_000)
        assert await phone.locator("#conversation-pane").is_hidden() and await phone.locator("#side-pane").is_hidden()
        await phone.screenshot(path=ARTIFACTS / "portal-phone-list.png")
        await card.click()
        await phone.locator("#messages li.customer", has_text=marker).wait_for(timeout=15_000)
        assert await phone.locator("#list-pane").is_hidden() and await phone.locator("#side-pane").is_hidden()
        assert await phone.locator("#reply-text").is_visible() and await phone.locator("#reply-send").is_visible()
        await phone.screenshot(path=ARTIFACTS / "portal-phone-conversation.png")
        await phone.click("#show-details")
        await phone.locator("#brief", has_text=marker).wait_for(timeout=5_000)
        assert await phone.locator("#conversation-pane").is_hidden() and await phone.locator("#note-add").is_visible()
        await phone.screenshot(path=ARTIFACTS / "portal-phone-details.png")
        await phone.click("#details-back")
        await phone.locator("#messages li.customer", has_text=marker).wait_for(timeout=5_000)
        await phone.click("#conversation-back")
        await card.wait_for(timeout=5_000)
        assert await phone.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")  # no sideways scroll
        assert not _csp_violations(console), console  # the built page runs under the strict CSP
        styled = "[style]:not([style=''])"  # (Chromium leaves an empty style on some form fields)
        assert await phone.locator(styled).count() == 0 and await desk.locator(styled).count() == 0
        assert await desk.locator("script:not([src]), style").count() == 0  # nothing inline
        assert not dialogs
    finally:
        await customer.close()
        await wren.close()


async def test_a_waiting_ticket_is_previewed_read_only_and_claimed_from_the_preview(browser, app):
    await app.add_agent("Ossie", ["General", "Account", "Billing", "Technical"])
    ossie = await PortalAgent(app, "Ossie").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        page, dialogs = await open_portal(browser, app, "Ossie")
        marker = uuid.uuid4().hex[:6]
        await escalate(customer, ossie, f"I want a person please, case {marker}")
        card = page.locator("#queue .ticket").filter(has_text=marker)
        await card.first.click()  # the card, not its Claim button
        await page.locator("#preview-claim").wait_for(timeout=15_000)
        assert marker in await page.locator("#brief").inner_text()
        await page.locator("#messages li.customer", has_text=marker).wait_for(timeout=15_000)  # read before claiming
        assert await page.locator("#canned-manage").is_hidden()  # only supervisors edit canned replies
        assert await page.locator("#reply-text").is_disabled() and await page.locator("#reply-send").is_disabled()
        assert await page.locator("#resolve").is_disabled() and await page.locator("#transfer-skill").is_disabled()
        await page.screenshot(path=ARTIFACTS / "portal-preview.png")

        await page.click("#preview-claim")
        await page.locator("#messages li.customer", has_text=marker).wait_for(timeout=15_000)
        await page.locator("#reply-text:enabled").wait_for(timeout=15_000)
        assert await page.locator("#preview-claim").count() == 0
        await customer.text_shown("Ossie joined the conversation")
        await page.fill("#reply-text", f"Ossie here about case {marker}.")
        await page.click("#reply-send")
        await customer.message_from("Ossie", f"Ossie here about case {marker}.")
        assert not dialogs
    finally:
        await customer.close()
        await ossie.close()


async def test_a_customer_message_in_a_held_conversation_not_open_is_counted_in_the_title_and_on_its_card(
    browser, tmp_path
):
    app = await RunningApp(free_port(), app_env(tmp_path)).start()
    await app.add_agent("Lux", ["General", "Account", "Billing", "Technical"], max_chats=3)
    lux = await PortalAgent(app, "Lux").connect()
    first, second = await ChainlitCustomer(app).connect(), await ChainlitCustomer(app).connect()
    try:
        page, _ = await open_portal(browser, app, "Lux")
        one, two = uuid.uuid4().hex[:6], uuid.uuid4().hex[:6]
        ticket_one = await escalate(first, lux, f"can I talk to someone real? case {one}")
        ticket_two = await escalate(second, lux, f"get me a human please, case {two}")
        await page.wait_for_function("document.title.startsWith('(2) ')", timeout=15_000)  # two waiting
        await page.locator("#queue .ticket", has_text=one).locator("button.claim").click()
        await page.locator("#messages li.customer", has_text=one).wait_for(timeout=15_000)
        await page.click("#tab-queue")  # a claim shows the Mine tab
        await page.locator("#queue .ticket", has_text=two).locator("button.claim").click()
        await page.locator("#messages li.customer", has_text=two).wait_for(timeout=15_000)
        await page.locator("#mine .ticket", has_text=one).click()  # back to the first: the second is not open
        await page.locator("#messages li.customer", has_text=one).wait_for(timeout=15_000)
        assert not (await page.title()).startswith("(")
        assert await page.locator(".unread-count").count() == 0

        await second.say(f"are you still there? {two}")
        badge = page.locator("#mine .ticket", has_text=two).locator(".unread-count")
        await badge.wait_for(timeout=15_000)
        assert await badge.inner_text() == "1"
        await page.wait_for_function("document.title.startsWith('(1) ')", timeout=5_000)
        assert await page.locator("#mine .ticket", has_text=one).locator(".unread-count").count() == 0
        await page.screenshot(path=ARTIFACTS / "portal-unread.png")

        await page.locator("#mine .ticket", has_text=two).click()  # read: the count goes
        await page.locator("#messages li.customer", has_text="are you still there?").wait_for(timeout=15_000)
        await page.wait_for_function("!document.title.startsWith('(')", timeout=5_000)
        assert await page.locator(".unread-count").count() == 0
        assert ticket_one["id"] != ticket_two["id"]
    finally:
        for client in (first, second, lux):
            await client.close()
        await app.stop()


async def test_a_supervisor_saves_a_canned_reply_and_an_agent_inserts_it_with_a_slash_filled_for_the_ticket(
    browser, app
):
    await app.add_agent("Sol", ["General", "Account", "Billing", "Technical", "Shipping"], supervisor=True)
    sol = await PortalAgent(app, "Sol").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        page, dialogs = await open_portal(browser, app, "Sol")
        marker = uuid.uuid4().hex[:6]
        shortcut = f"ship{marker}"
        await page.click("#canned-manage")
        await page.fill("#canned-shortcut", shortcut)
        await page.fill("#canned-title", "Order shipped")
        await page.fill("#canned-text", "Hello {name}, your parcel left today.")
        await page.click("#canned-save")
        item = page.locator(f"#canned-items .canned-item[data-shortcut='{shortcut}']")
        await item.wait_for(timeout=15_000)
        await item.locator(".canned-edit").click()  # and edited
        await page.fill("#canned-text", "Hello {name}, your parcel left today and arrives in 3–5 days.")
        await page.click("#canned-save")
        await item.filter(has_text="3–5 days").wait_for(timeout=15_000)
        await page.screenshot(path=ARTIFACTS / "portal-canned-dialog.png")
        await page.click("#canned-close")

        ticket = await escalate(customer, sol, f"Hi, I'm Maria, I want a person about my parcel (case {marker})")
        card = page.locator("#queue .ticket").filter(has_text=marker)
        await card.first.locator("button.claim").click()
        await page.locator("#messages li.customer", has_text=marker).wait_for(timeout=15_000)
        await page.locator("#reply-text").press_sequentially(f"/ship{marker[:3]}", delay=20)
        option = page.locator(f"#canned-menu .canned-option[data-shortcut='{shortcut}']")
        await option.wait_for(timeout=5_000)
        await page.screenshot(path=ARTIFACTS / "portal-canned-menu.png")
        await page.locator("#reply-text").press("Enter")  # picks the highlighted reply; sends nothing yet
        await page.locator("#canned-menu").wait_for(state="detached", timeout=5_000)
        await page.wait_for_function("document.querySelector('#reply-text').value.includes('3–5 days')", timeout=15_000)
        filled = await page.input_value("#reply-text")
        name = ticket["customer_facts"].get("name")
        assert filled == f"Hello {name or '{name}'}, your parcel left today and arrives in 3–5 days.", filled
        await page.click("#reply-send")
        await customer.message_from("Sol", "your parcel left today")

        await page.click("#canned-manage")  # and deleted
        await item.locator(".canned-delete").click()
        await item.wait_for(state="detached", timeout=15_000)
        await page.click("#canned-close")
        await page.locator("#reply-text").press_sequentially(f"/ship{marker}", delay=20)
        await page.locator("#canned-menu", has_text="No canned reply matches").wait_for(timeout=5_000)
        assert not dialogs
    finally:
        await customer.close()
        await sol.close()


async def test_the_search_box_filters_the_lists_and_finds_resolved_tickets_too(browser, app):
    await app.add_agent("Tove", ["General", "Account", "Billing", "Technical"])
    tove = await PortalAgent(app, "Tove").connect()
    done, open_one = await ChainlitCustomer(app).connect(), await ChainlitCustomer(app).connect()
    try:
        page, _ = await open_portal(browser, app, "Tove")
        marker = uuid.uuid4().hex[:6]
        closed = await escalate(done, tove, f"I want to talk to a person about invoice INV-{marker}")
        assert (await tove.call("claim", {"ticket_id": closed["id"]}))["ok"]
        assert (await tove.call("reply", {"ticket_id": closed["id"], "text": "Sorted, thanks."}))["ok"]
        await page.locator("#messages li.agent", has_text="Sorted, thanks.").wait_for(timeout=15_000)
        assert (await tove.call("resolve", {"ticket_id": closed["id"]}))["ok"]
        await page.locator("#empty", has_text="Ticket resolved").wait_for(timeout=15_000)
        other = uuid.uuid4().hex[:6]
        await escalate(open_one, tove, f"can I talk to someone real? case {other}")
        await page.click("#tab-queue")
        await page.locator("#queue .ticket", has_text=other).wait_for(timeout=15_000)

        await page.fill("#search", marker)  # the lists filter at once: the waiting ticket does not match
        await page.locator("#queue .ticket", has_text=other).wait_for(state="detached", timeout=5_000)
        found = page.locator("#search-results .ticket", has_text=marker)  # and the server finds the resolved one
        await found.wait_for(timeout=15_000)
        assert "resolved" in await found.locator(".tag.status").inner_text()
        await page.screenshot(path=ARTIFACTS / "portal-search.png")
        await found.click()
        await page.locator("#preview", has_text="resolved").wait_for(timeout=15_000)
        assert marker in await page.locator("#brief").inner_text()
        assert await page.locator("#reply-text").is_disabled() and await page.locator("#resolve").is_disabled()

        await page.click("#search-clear")
        await page.locator("#search-results").wait_for(state="detached", timeout=5_000)
        await page.locator("#queue .ticket", has_text=other).wait_for(timeout=5_000)
    finally:
        for client in (done, open_one, tove):
            await client.close()


# Stands in for the browser's Notification and counts the tones played, so a test can see the page's alerts.
RECORD_ALERTS = """
(() => {
  const alerts = (window.__alerts = { notifications: [], asked: 0, tones: 0 });
  class Recorder {
    constructor(title, options) { alerts.notifications.push({ title, body: (options || {}).body || "" }); }
    close() {}
  }
  Recorder.permission = "default";
  Recorder.requestPermission = async () => { alerts.asked += 1; Recorder.permission = "granted"; return "granted"; };
  window.Notification = Recorder;
  const oscillator = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () { alerts.tones += 1; return oscillator.call(this); };
})();
"""


async def _notified(page, matches, timeout: float = 15.0) -> dict:
    """The first notification the page showed that `matches`, waiting for it (polled: the page's CSP forbids eval)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        shown = (await page.evaluate("window.__alerts"))["notifications"]
        found = next((n for n in shown if matches(n)), None)
        if found or asyncio.get_running_loop().time() > deadline:
            assert found, shown
            return found
        await asyncio.sleep(0.2)


async def test_alerts_are_asked_for_from_a_click_then_ring_for_a_new_ticket_and_a_customer_message(browser, app):
    await app.add_agent("Juno", ["General", "Account", "Billing", "Technical", "Shipping"], max_chats=5)
    juno = await PortalAgent(app, "Juno").connect()
    first, second = await ChainlitCustomer(app).connect(), await ChainlitCustomer(app).connect()
    try:
        page, _ = await open_portal(browser, app, "Juno", init=RECORD_ALERTS)
        alerts = "window.__alerts"
        assert (await page.evaluate(alerts))["asked"] == 0  # no permission prompt on load
        one, two = uuid.uuid4().hex[:6], uuid.uuid4().hex[:6]
        await escalate(first, juno, f"can I talk to someone real? case {one}")
        await page.locator("#queue .ticket", has_text=one).wait_for(timeout=15_000)
        assert (await page.evaluate(alerts))["notifications"] == []  # off until the agent turns them on

        await page.click("#alerts-toggle")
        await page.locator("#alerts-toggle", has_text="Alerts on").wait_for(timeout=5_000)
        state = await page.evaluate(alerts)
        assert state["asked"] == 1 and state["tones"] == 1  # asked from the click; a tone to hear it works

        ticket = await escalate(second, juno, f"get me a human please, case {two}")
        await _notified(page, lambda n: n["title"] == "New ticket in your queue" and two in n["body"])
        await page.locator("#queue .ticket", has_text=one).locator("button.claim").click()
        await page.locator("#messages li.customer", has_text=one).wait_for(timeout=15_000)
        assert (await juno.call("claim", {"ticket_id": ticket["id"]}))["ok"]  # held, not open here
        await page.locator("#mine .ticket", has_text=two).wait_for(timeout=15_000)
        tones = (await page.evaluate(alerts))["tones"]
        await second.say(f"hello? {two}")
        await _notified(page, lambda n: n["title"].startswith("Customer message") and n["body"] == f"hello? {two}")
        assert (await page.evaluate(alerts))["tones"] > tones

        await page.click("#alerts-toggle")  # and off again
        await page.locator("#alerts-toggle", has_text="Alerts off").wait_for(timeout=5_000)
    finally:
        for client in (first, second, juno):
            await client.close()
