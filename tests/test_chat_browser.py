"""The customer's chat page in headless Chromium: what it checks before it sends."""

from __future__ import annotations

from tests.test_browser import ARTIFACTS, browser, open_chat

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
