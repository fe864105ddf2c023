"""Real headless Chromium on both pages: the customer's chat and the agent portal."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, need

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture
async def browser():
    need(os.path.exists(CHROMIUM), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def open_chat(browser, app):
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    await page.goto(app.base_url + "/")
    await page.locator("#chat-input").wait_for(timeout=30_000)
    return page


async def ask(page, text: str) -> None:
    await page.locator("#chat-input").fill(text)
    await page.keyboard.press("Enter")


async def open_portal(browser, app, name: str):
    context = await browser.new_context(viewport={"width": 1300, "height": 850})
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
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
    avatar = customer.locator('img[src*="/avatars/Paige"]')
    await avatar.first.wait_for(timeout=15_000)
    await customer.screenshot(path=ARTIFACTS / "customer-agent-reply.png", full_page=True)
    await portal.screenshot(path=ARTIFACTS / "portal-conversation.png", full_page=True)
