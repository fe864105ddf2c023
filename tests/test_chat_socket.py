"""The customer's chat over Chainlit's real socket protocol, against the running app."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest

from chat.render import GREETING, agent_text
from tests.clients import ChainlitCustomer, PortalAgent, escalate


async def test_a_knowledge_base_answer_streams_token_by_token(app):
    customer = await ChainlitCustomer(app).connect()
    try:
        await customer.say("How do I reset my password?")
        answer = await customer.message_from("Assistant", "Password")
        started = customer.log.named("stream_start")
        tokens = [t for t in customer.log.named("stream_token") if t["id"] == answer["id"]]
        assert any(s["id"] == answer["id"] for s in started)
        assert len(tokens) > 10
        assert "Resetting Your Password" in answer["output"]
    finally:
        await customer.close()


async def test_asking_for_a_person_shows_the_connecting_status_and_queue_position(app):
    await app.add_agent("Ada", ["General"])
    agent = await PortalAgent(app, "Ada").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        await customer.say("I need to speak to a human please")
        status = await customer.text_shown("Connecting you to an agent")
        assert status["name"] == "Support"
        await customer.text_shown("estimated wait")
    finally:
        await customer.close()
        await agent.close()


async def test_with_nobody_on_duty_the_customer_is_told_and_a_later_reply_still_reaches_them(app):
    await app.add_agent("Late", ["Shipping"])
    customer = await ChainlitCustomer(app).connect()
    agent = None
    try:
        await customer.say("my hub order never arrived, I want a person. you can reach me at kai@example.com")
        told = await customer.text_shown("No one from our team who handles this is online right now")
        assert "estimated wait" not in told["output"]
        agent = await PortalAgent(app, "Late").connect()  # an agent comes online later
        ticket = next(t for t in (await agent.call("queue"))["tickets"] if t["thread_id"] == customer.thread_id)
        assert ticket["customer_facts"]["email"] == "kai@example.com"  # the way to reach them
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "Sorry for the wait, Late here."}))["ok"]
        await customer.message_from("Late", "Late here")
    finally:
        await customer.close()
        if agent:
            await agent.close()


async def test_an_agent_reply_reaches_the_customer_under_the_agents_name(app):
    await app.add_agent("Morgan", ["General"])
    agent = await PortalAgent(app, "Morgan").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        claimed = await agent.call("claim", {"ticket_id": ticket["id"]})
        assert claimed["ok"], claimed
        await customer.text_shown("Morgan joined the conversation")
        sent = await agent.call(
            "reply", {"ticket_id": ticket["id"], "text": "Hi, Morgan here. I can see your question."}
        )
        assert sent["ok"], sent
        reply = await customer.message_from("Morgan", "Morgan here")
        assert reply["id"] == sent["message"]["id"]

        await customer.say("great, my invoice total is wrong")
        delivered = await agent.log.wait_for("customer_message", lambda e: e["ticket_id"] == ticket["id"])
        assert delivered["content"] == "great, my invoice total is wrong"
        await customer.log.wait_for("toast", lambda t: "Delivered to Morgan" in t["message"])
        answers = [
            m for m in customer.log.named("new_message") if m.get("name") == "Assistant" and m["output"] != GREETING
        ]
        assert not answers  # the AI stays out
    finally:
        await customer.close()
        await agent.close()


async def test_the_agent_typing_indicator_reaches_the_customer(app):
    await app.add_agent("Quinn", ["General"])
    agent = await PortalAgent(app, "Quinn").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        assert (await agent.call("typing", {"ticket_id": ticket["id"], "is_typing": True}))["ok"]
        typing = await customer.log.wait_for("stream_start", lambda m: "Quinn is typing" in (m.get("output") or ""))
        assert typing["name"] == "Quinn"
        assert (await agent.call("typing", {"ticket_id": ticket["id"], "is_typing": False}))["ok"]
        await customer.log.wait_for("delete_message", lambda m: m["id"] == typing["id"])
    finally:
        await customer.close()
        await agent.close()


async def test_history_survives_a_reconnect_including_a_reply_sent_while_away(app):
    await app.add_agent("Riley", ["Shipping", "General"])
    agent = await PortalAgent(app, "Riley").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent, "get me a supervisor, my order NW-12345 is lost")
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "First reply, while you are here."}))[
            "ok"
        ]
        await customer.message_from("Riley", "First reply")
        thread_id, cookies = customer.thread_id, customer.cookies
        await customer.close()

        assert (
            await agent.call("reply", {"ticket_id": ticket["id"], "text": "Second reply, sent while you were away."})
        )["ok"]

        back = await ChainlitCustomer(app, cookies).connect(thread_id)
        try:
            # The page replaces what it shows with this one payload, so everything must be in it.
            resumed = await back.log.wait_for("resume_thread")
            shown = [(step["name"], step.get("output") or "") for step in resumed["steps"]]
            said = [text for _, text in shown]
            assert any("get me a supervisor" in text for text in said)
            assert said.index(next(t for t in said if "First reply" in t)) < said.index(
                next(t for t in said if "Second reply" in t)
            )
            assert ("Riley", agent_text("Riley", "Second reply, sent while you were away.")) in shown
            assert [text for name, text in shown if name == "Support"][-1] == "You're chatting with Riley."
        finally:
            await back.close()
        again = await ChainlitCustomer(app, cookies).connect(thread_id)  # and it was stored: no duplicate next time
        try:
            steps = (await again.log.wait_for("resume_thread"))["steps"]
            assert sum("Second reply" in (step.get("output") or "") for step in steps) == 1
            support = [step["output"] for step in steps if step["name"] == "Support"]
            assert support == ["You're out of the queue.", "You're chatting with Riley."]  # each stored once
        finally:
            await again.close()
    finally:
        await agent.close()


async def test_an_oversized_message_gets_a_clear_reply_and_the_chat_keeps_working(app):
    customer = await ChainlitCustomer(app).connect()
    try:
        await customer.say("x" * 5000)
        refusal = await customer.message_from("Support", "the limit is 4,000")
        assert "was not passed on" in refusal["output"]
        await customer.say("How do I turn on two-factor authentication?")
        await customer.message_from("Assistant", "Two-Factor")
    finally:
        await customer.close()


async def test_stop_when_nothing_runs_changes_nothing(app):
    customer = await ChainlitCustomer(app).connect()
    try:
        await customer.stop()
        await customer.say("what are your support hours?")
        await customer.message_from("Assistant", "Support")
    finally:
        await customer.close()


async def test_a_resolved_conversation_asks_for_a_rating_and_stores_it(app):
    await app.add_agent("Jordan", ["General"])
    agent = await PortalAgent(app, "Jordan").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        assert (await agent.call("resolve", {"ticket_id": ticket["id"]}))["ok"]
        prompt = await customer.message_from("Support", "How did we do?")
        # The stars follow the message, one event each.
        await customer.log.wait_for("action", lambda a: a["forId"] == prompt["id"] and a["payload"].get("rating") == 5)
        actions = [a for a in customer.log.named("action") if a["forId"] == prompt["id"]]
        assert sorted(a["payload"]["rating"] for a in actions) == [1, 2, 3, 4, 5]
        four = next(a for a in actions if a["payload"]["rating"] == 4)
        await customer.click(four)
        await customer.message_from("Support", "Thank you for your feedback")
        updated = await agent.log.wait_for("ticket_updated", lambda t: t["id"] == ticket["id"] and t.get("rating") == 4)
        assert updated["status"] == "resolved"
        await customer.log.wait_for("remove_action", lambda a: a["id"] == actions[-1]["id"])
        assert {a["id"] for a in actions} <= {a["id"] for a in customer.log.named("remove_action")}  # every star goes

        await customer.click(actions[0])  # a second rating, from a stale tab say
        await customer.message_from("Support", "already rated")
        assert not [t for t in agent.log.named("ticket_updated") if t["id"] == ticket["id"] and t.get("rating") == 1]
    finally:
        await customer.close()
        await agent.close()


async def test_a_message_while_waiting_is_queued_for_the_agent_not_lost(app):
    await app.add_agent("Casey", ["General"])
    agent = await PortalAgent(app, "Casey").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        await customer.say("also, my account number is ACC-20231")
        await customer.log.wait_for("toast", lambda t: "Delivered" in t["message"])
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        opened = await agent.call("open", {"ticket_id": ticket["id"]})
        assert [m["content"] for m in opened["messages"]][-1] == "also, my account number is ACC-20231"
        await asyncio.sleep(0)
    finally:
        await customer.close()
        await agent.close()


async def test_the_agent_sees_when_the_customer_is_typing(app):
    await app.add_agent("Tara", ["General"])
    agent = await PortalAgent(app, "Tara").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        async with httpx.AsyncClient(base_url=app.base_url, cookies=customer.cookies) as http:
            assert (await http.post("/chat/typing", json={"is_typing": True})).status_code == 200
            typing = await agent.log.wait_for("typing", lambda e: e["ticket_id"] == ticket["id"] and e["is_typing"])
            assert typing["who"] == "customer"
            assert (await http.post("/chat/typing", json={"is_typing": "yes"})).status_code == 400
        async with httpx.AsyncClient(base_url=app.base_url) as stranger:
            assert (await stranger.post("/chat/typing", json={"is_typing": True})).status_code == 401
    finally:
        await customer.close()
        await agent.close()


async def test_a_second_tab_of_the_chat_shows_what_the_first_one_said_and_was_answered(app):
    first_tab = await ChainlitCustomer(app).connect()
    second_tab = None
    try:
        await first_tab.say("How do I reset my password?")
        await first_tab.message_from("Assistant", "Resetting Your Password")
        second_tab = await ChainlitCustomer(app, first_tab.cookies).connect(first_tab.thread_id)
        await second_tab.log.wait_for("resume_thread")

        await first_tab.say("and how do I turn on two-factor authentication?")
        answer = await first_tab.message_from("Assistant", "Two-Factor")
        echoed = await second_tab.log.wait_for("new_message", lambda m: "turn on two-factor" in (m.get("output") or ""))
        assert echoed["type"] == "user_message"
        copy = await second_tab.message_from("Assistant", "Two-Factor")
        assert copy["id"] == answer["id"] and copy["output"] == answer["output"]
    finally:
        await first_tab.close()
        if second_tab:
            await second_tab.close()


async def test_agents_see_when_the_customer_leaves_the_chat_and_comes_back(app):
    await app.add_agent("Noor", ["General"])
    agent = await PortalAgent(app, "Noor").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        thread_id, cookies = customer.thread_id, customer.cookies
        await customer.close()
        left = await agent.log.wait_for("customer_presence", lambda p: p["ticket_id"] == ticket["id"])
        assert left["online"] is False
        customer = await ChainlitCustomer(app, cookies).connect(thread_id)
        back = await agent.log.wait_for("customer_presence", lambda p: p["ticket_id"] == ticket["id"] and p["online"])
        assert back["thread_id"] == thread_id
        await customer.close()  # the first tab's session lingers in Chainlit for an hour; it is not connected
        await agent.log.wait_for(
            "customer_presence",
            lambda p: p["ticket_id"] == ticket["id"] and not p["online"] and p["event_id"] != left["event_id"],
        )
    finally:
        await customer.close()
        await agent.close()


async def test_a_card_number_is_hidden_in_the_chat_and_never_reaches_the_agent(app):
    await app.add_agent("Omar", ["Billing", "General"])
    agent = await PortalAgent(app, "Omar").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        await customer.say("you charged my card 4111 1111 1111 1111 twice")
        hidden = await customer.log.wait_for("update_message", lambda m: "card ending 1111" in (m.get("output") or ""))
        assert "4111 1111" not in hidden["output"]
        await customer.log.wait_for("toast", lambda t: "hid your card number" in t["message"])
        delivered = await agent.log.wait_for("customer_message", lambda e: e["ticket_id"] == ticket["id"])
        assert delivered["content"] == "you charged my card [card ending 1111] twice"
        opened = await agent.call("open", {"ticket_id": ticket["id"]})
        assert not [m for m in opened["messages"] if "4111 1111" in m["content"]]
    finally:
        await customer.close()
        await agent.close()


@pytest.mark.parametrize(
    "sneaky",
    ["![x](http://127.0.0.1:9/p.png)", "!![x](http://127.0.0.1:9/p.png)", "!!![x][ref]\n\n[ref]: http://h/p.png"],
)
def test_an_agents_markdown_image_reaches_the_customer_as_a_link_however_it_is_written(sneaky):
    shown = agent_text("Riley", sneaky)
    assert "![" not in shown and "[x]" in shown


async def test_a_how_do_i_question_gets_the_steps_of_the_section_that_answers_it(app):
    customer = await ChainlitCustomer(app).connect()
    try:
        await customer.say("I forgot my password, how do I get back in?")
        answer = await customer.message_from("Assistant", "Resetting Your Password")
        for step in ("Forgot password?", "Send reset link", "60 minutes"):  # the steps, not the introduction
            assert step in answer["output"], step
    finally:
        await customer.close()


async def test_after_a_hand_back_the_assistant_remembers_what_the_customer_and_agent_said(app):
    await app.add_agent("Nell", ["General", "Billing"])
    agent = await PortalAgent(app, "Nell").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        await customer.say("Hi, I'm Rosa Delgado, my email is rosa.delgado@example.org")
        greeting = await customer.message_from("Assistant", "rosa.delgado@example.org")
        assert greeting["output"].startswith("Hi Rosa")
        await customer.say("I was charged twice this month on invoice INV-20931")
        ticket = await escalate(customer, agent, "I'd like to talk to a human please")
        assert ticket["summary"].startswith("Problem: “I was charged twice this month on invoice INV-20931")
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        refund = "I've refunded the duplicate charge; it takes 5 to 10 business days to reach your card."
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": refund}))["ok"]
        assert (await agent.call("hand_back", {"ticket_id": ticket["id"]}))["ok"]
        await customer.text_shown("You're back with the assistant")
        await customer.say("what was the invoice number I gave you earlier?")
        await customer.message_from("Assistant", "INV-20931")
        await customer.say("remind me, how long will the refund take?")
        await customer.message_from("Assistant", "5 to 10 business days")
        assert not [t for t in agent.log.named("escalation_request") if t["id"] != ticket["id"]]  # no second handoff
    finally:
        await customer.close()
        await agent.close()


async def test_a_waiting_customer_leaves_the_queue_with_the_button_and_the_agents_see_it_go(app):
    await app.add_agent("Olly", ["General"])
    agent = await PortalAgent(app, "Olly").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        leave = await customer.log.wait_for("action", lambda a: a["name"] == "leave_queue")
        await customer.click(leave)
        gone = await agent.log.wait_for(
            "ticket_updated", lambda t: t["id"] == ticket["id"] and t["status"] == "withdrawn"
        )
        assert gone["assigned_agent"] is None
        await customer.text_shown("You've left the queue")
        await customer.log.wait_for("remove_action", lambda a: a["id"] == leave["id"])
        claimed = await agent.call("claim", {"ticket_id": ticket["id"]})
        assert claimed["ok"] is False and "withdrawn" in claimed["error"]
        await customer.say("How do I reset my password?")  # the assistant is back
        await customer.message_from("Assistant", "Resetting Your Password")
    finally:
        await customer.close()
        await agent.close()


async def test_a_thank_you_while_waiting_keeps_the_customer_in_the_queue(app):
    await app.add_agent("Pim", ["General"])
    agent = await PortalAgent(app, "Pim").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        await customer.say("ok thanks, I'll wait")
        await customer.log.wait_for("toast", lambda t: "Delivered" in t["message"])
        assert not [
            t for t in agent.log.named("ticket_updated") if t["id"] == ticket["id"] and t["status"] == "withdrawn"
        ]
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        opened = await agent.call("open", {"ticket_id": ticket["id"]})
        assert opened["messages"][-1]["content"] == "ok thanks, I'll wait"
    finally:
        await customer.close()
        await agent.close()


async def test_a_stale_chat_session_or_an_unknown_conversation_gets_a_404_not_a_server_error(app):
    customer = await ChainlitCustomer(app).connect()
    try:
        async with httpx.AsyncClient(base_url=app.base_url, cookies=customer.cookies) as http:
            action = {"name": "rate", "payload": {"rating": 5}, "id": "a1", "forId": "m1"}
            stale = await http.post("/project/action", json={"sessionId": "gone-after-a-restart", "action": action})
            thread = await http.get("/project/thread/no-such-conversation")
            element = await http.put("/project/element", json={"sessionId": "gone", "element": {"id": "e"}})
            garbage = await http.post(
                "/project/action", content=b"not json", headers={"content-type": "application/json"}
            )
        assert stale.status_code == 404 and "reload the page" in stale.json()["detail"]
        assert thread.status_code == 404 and element.status_code == 404
        assert garbage.status_code == 422
        log = app.log_path.read_text()
        assert "Session not found" not in log and "Author not found" not in log
    finally:
        await customer.close()


async def test_a_waiting_customer_who_writes_never_mind_leaves_the_queue_and_the_agents_see_it_go(app):
    await app.add_agent("Wren", ["General"])
    agent = await PortalAgent(app, "Wren").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        await customer.say("oh never mind, I worked it out myself in the end")
        await customer.text_shown("You've left the queue")
        gone = await agent.log.wait_for(
            "ticket_updated", lambda t: t["id"] == ticket["id"] and t["status"] == "withdrawn"
        )
        assert gone["assigned_agent"] is None
        assert not agent.log.named("customer_message")  # it was not passed on as a message for the agent
        await customer.say("How do I reset my password?")  # the assistant is back
        await customer.message_from("Assistant", "Resetting Your Password")
    finally:
        await customer.close()
        await agent.close()


async def test_a_customer_rates_only_messages_of_their_own_conversations_and_cannot_take_over_one(app):
    owner, other = await ChainlitCustomer(app).connect(), await ChainlitCustomer(app).connect()
    try:
        asked = await owner.say("How do I reset my password?")
        answer = await owner.answer("Resetting Your Password")
        async with httpx.AsyncClient(base_url=app.base_url) as http:

            async def rate(customer: ChainlitCustomer, message_id: str) -> httpx.Response:
                feedback = {"feedback": {"forId": message_id, "value": 1}, "sessionId": customer.session_id}
                return await http.put("/feedback", json=feedback, cookies=customer.cookies)

            async def unrate(customer: ChainlitCustomer, feedback_id: str) -> httpx.Response:
                body = {"feedbackId": feedback_id}
                return await http.request("DELETE", "/feedback", json=body, cookies=customer.cookies)

            assert (await rate(other, answer["id"])).status_code == 404  # not their conversation
            mine = await rate(owner, answer["id"])
            assert mine.status_code == 200 and mine.json()["success"]
            assert (await unrate(other, mine.json()["feedbackId"])).status_code == 404
            assert (await unrate(owner, mine.json()["feedbackId"])).status_code == 200
            assert (await http.put("/feedback", json={"feedback": {}})).status_code in (401, 422)

        await other.say("How do I export my data?", message_id=asked)  # reusing the owner's message id
        await other.answer("Export")
        with sqlite3.connect(Path(app.env["DATA_DIR"]) / "chat_history.db") as history:  # Chainlit's own copy
            stored = history.execute('SELECT "threadId", output FROM steps WHERE id = ?', (asked,)).fetchone()
        assert stored == (owner.thread_id, "How do I reset my password?")
    finally:
        await owner.close()
        await other.close()


async def test_a_new_chat_while_a_person_is_with_the_customer_links_back_and_a_request_for_a_person_joins_them(app):
    await app.add_agent("Ossie", ["General"])
    agent = await PortalAgent(app, "Ossie").connect()
    customer = await ChainlitCustomer(app).connect()
    try:
        ticket = await escalate(customer, agent)
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        fresh = await ChainlitCustomer(app, customer.cookies).connect()  # "New chat": same customer, new thread
        try:
            notice = await fresh.message_from("Support", "still in a conversation with Ossie")
            assert f"/thread/{customer.thread_id}" in notice["output"]
            # Asking for a person from there joins the open ticket: Ossie gets the message, no second ticket.
            await fresh.say("I want to talk to a human about my refund")
            joined = await fresh.answer("already have a conversation open with Ossie")
            assert f"/thread/{customer.thread_id}" in joined["output"]
            heard = await agent.log.wait_for(
                "customer_message", lambda e: e["content"] == "I want to talk to a human about my refund"
            )
            assert heard["ticket_id"] == ticket["id"]
            assert not [t for t in agent.log.named("escalation_request") if t["thread_id"] == fresh.thread_id]
            assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "Got it, Ossie here."}))["ok"]
            await customer.message_from("Ossie", "Got it, Ossie here.")  # in the conversation it went to
        finally:
            await fresh.close()
        stranger = await ChainlitCustomer(app).connect()  # someone else: nothing of theirs is open
        try:
            # connect() waited for the end of the chat's start, where the notice would have been sent
            assert not [m for m in stranger.log.named("new_message") if m.get("name") == "Support"]
        finally:
            await stranger.close()
    finally:
        await customer.close()
        await agent.close()
