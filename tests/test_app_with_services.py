"""The running app against real outside parts: an OpenAI-compatible endpoint, Postgres and Redis."""

from __future__ import annotations

import asyncio

import httpx

from tests.clients import ChainlitCustomer, PortalAgent, RunningApp, escalate
from tests.conftest import app_env, free_port


async def test_stop_closes_the_upstream_llm_stream_and_the_next_message_works(tmp_path, fake_llm):
    app = await RunningApp(free_port(), app_env(tmp_path, OPENAI_BASE_URL=fake_llm.url, OPENAI_API_KEY="test")).start()
    customer = await ChainlitCustomer(app).connect()
    try:
        fake_llm.reset(reply=" ".join(f"word{i}" for i in range(400)), token_delay=0.02)
        await customer.say("How do I reset my password?")
        await customer.log.wait_for("stream_token", lambda t: "word5" in t["token"])
        await customer.stop()
        await asyncio.wait_for(fake_llm.stream_closed.wait(), 5)
        assert fake_llm.disconnected_at is not None
        assert fake_llm.tokens_after_disconnect <= 1
        assert fake_llm.tokens_sent < 200
        partial = await customer.message_from("Assistant", "(stopped)")
        assert partial["output"].startswith("word0")

        fake_llm.reset(reply="You can reset it from the login page.")
        await customer.say("ok, and how do I reset it?")
        await customer.message_from("Assistant", "You can reset it from the login page.")
    finally:
        await customer.close()
        await app.stop()


async def test_chainlits_ci_mode_leaves_the_offline_model_answering(tmp_path):
    # `chainlit run` with CI set swaps in a placeholder OPENAI_API_KEY; the app must not take it as an LLM.
    app = await RunningApp(free_port(), app_env(tmp_path, CI="true")).start()
    customer = await ChainlitCustomer(app).connect()
    try:
        await customer.say("How do I reset my password?")
        answer = await customer.message_from("Assistant", "Resetting Your Password")
        assert "unavailable" not in answer["output"]
    finally:
        await customer.close()
        await app.stop()
    assert "placeholder" in app.log_path.read_text()


async def test_a_dead_llm_hands_the_customer_to_a_person(tmp_path, fake_llm):
    fake_llm.reset(mode="error")
    app = await RunningApp(free_port(), app_env(tmp_path, OPENAI_BASE_URL=fake_llm.url, OPENAI_API_KEY="test")).start()
    customer = await ChainlitCustomer(app).connect()
    try:
        await customer.say("How do I reset my password?")
        await customer.text_shown("Our assistant is unavailable right now")
    finally:
        await customer.close()
        await app.stop()


async def test_two_processes_share_postgres_and_redis_for_one_handoff(tmp_path, postgres_url, redis_url):
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}
    customer_side = await RunningApp(free_port(), app_env(tmp_path / "a", **env)).start()
    agent_side = await RunningApp(free_port(), app_env(tmp_path / "b", **env)).start()
    await agent_side.add_agent("Nia", ["General"])
    agent = await PortalAgent(agent_side, "Nia").connect()
    watcher = await PortalAgent(customer_side, "Nia").connect()  # the same agent, a tab on the other process
    customer = await ChainlitCustomer(customer_side).connect()
    try:
        await customer.say("I'd like to speak to a representative")
        await customer.log.wait_for("first_interaction")
        ticket = await agent.log.wait_for("escalation_request", lambda t: t["thread_id"] == customer.thread_id)
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        await customer.text_shown("Nia joined the conversation")
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "Hello across processes"}))["ok"]
        await customer.message_from("Nia", "Hello across processes")
        await customer.say("thanks, it's about my invoice")
        heard = await watcher.log.wait_for("customer_message", lambda e: e["ticket_id"] == ticket["id"])
        assert heard["content"] == "thanks, it's about my invoice"
        await agent.log.wait_for("customer_message", lambda e: e["ticket_id"] == ticket["id"])
    finally:
        await customer.close()
        await agent.close()
        await watcher.close()
        await customer_side.stop()
        await agent_side.stop()


async def test_a_restart_mid_escalation_loses_nothing_on_embedded_defaults(tmp_path):
    await restart_mid_escalation(app_env(tmp_path))


async def test_a_restart_mid_escalation_loses_nothing(tmp_path, postgres_url, redis_url):
    await restart_mid_escalation(app_env(tmp_path, DATABASE_URL=postgres_url, REDIS_URL=redis_url))


async def restart_mid_escalation(env: dict[str, str]) -> None:
    """Escalate, stop the app, start it again on the same data: the ticket, its brief and the paused
    conversation are all there, and the agent's claim and reply reach the customer."""
    port = free_port()
    app = await RunningApp(port, env).start()
    await app.add_agent("Omar", ["General", "Shipping"])
    customer = await ChainlitCustomer(app).connect()
    agent = await PortalAgent(app, "Omar").connect()
    await customer.say("My Hub order NW-80808 never came, I want to talk to a person")
    await customer.log.wait_for("first_interaction")
    ticket = await agent.log.wait_for("escalation_request", lambda t: t["thread_id"] == customer.thread_id)
    thread_id, cookies = customer.thread_id, customer.cookies
    await customer.close()
    await agent.close()
    await app.stop()

    app = await RunningApp(port, env).start()
    agent = await PortalAgent(app, "Omar").connect()
    back = await ChainlitCustomer(app, cookies).connect(thread_id)
    try:
        queue = await agent.call("queue")
        waiting = next(t for t in queue["tickets"] if t["id"] == ticket["id"])
        assert waiting["customer_facts"]["order_number"] == "NW-80808"
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        await back.text_shown("Omar joined the conversation")
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "Found order NW-80808."}))["ok"]
        await back.message_from("Omar", "Found order NW-80808.")
    finally:
        await back.close()
        await agent.close()
        await app.stop()


async def test_after_postgres_ends_every_connection_the_chat_and_the_portal_go_on(
    tmp_path, postgres_url, postgres_admin_url
):
    import asyncpg

    app = await RunningApp(free_port(), app_env(tmp_path, DATABASE_URL=postgres_url)).start()
    await app.add_agent("Rue", ["General"])
    agent = await PortalAgent(app, "Rue").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "Rue here"}))["ok"]
        await customer.message_from("Rue", "Rue here")
        admin = await asyncpg.connect(postgres_admin_url)
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", postgres_url.rsplit("/", 1)[1]
        )
        await admin.close()
        await customer.say("are you still there?")
        heard = await agent.log.wait_for("customer_message", lambda e: e["content"] == "are you still there?")
        assert heard["ticket_id"] == ticket["id"]
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "Yes, still here"}))["ok"]
        await customer.message_from("Rue", "Yes, still here")
        db = await asyncpg.connect(postgres_url)
        try:
            for _ in range(50):  # Chainlit writes its history beside the live message
                stored = {
                    row["output"]
                    for row in await db.fetch('SELECT "output" FROM steps WHERE "threadId" = $1', customer.thread_id)
                }
                if {"are you still there?", "Yes, still here"} <= {text.split("\n")[-1] for text in stored if text}:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the chat history lost messages after the restart: {stored}")
        finally:
            await db.close()
        assert "An error occurred" not in app.log_path.read_text()
    finally:
        await customer.close()
        await agent.close()
        await app.stop()


async def test_an_agent_action_that_fails_on_our_side_is_answered_at_once_and_changes_nothing(tmp_path):
    import sqlite3

    app = await RunningApp(free_port(), app_env(tmp_path)).start()
    await app.add_agent("Ada", ["General"])
    await app.add_agent("Sup", ["General"], supervisor=True)
    agent = await PortalAgent(app, "Ada").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        with sqlite3.connect(tmp_path / "escalation.db") as database:  # the audit trail goes away under the app
            database.execute("ALTER TABLE ee_ticket_events RENAME TO ee_ticket_events_gone")
        claimed = await agent.call("claim", {"ticket_id": ticket["id"]})
        assert claimed["ok"] is False and "failed on our side" in claimed["error"]
        queue = await agent.call("queue")
        assert [t["status"] for t in queue["tickets"] if t["id"] == ticket["id"]] == ["waiting"]  # rolled back
        assert "the portal action claim by Ada failed" in app.log_path.read_text()
        token = await PortalAgent(app, "Sup").login()
        async with httpx.AsyncClient(base_url=app.base_url) as http:
            report = await http.get("/portal/reports/data", headers={"Authorization": f"Bearer {token}"})
        assert report.status_code == 503 and "could not be read just now" in report.json()["error"]
    finally:
        await customer.close()
        await agent.close()
        await app.stop()
