"""The agent portal's socket.io server: who may connect, who sees what, and what every action does."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import socketio

from tests.clients import ChainlitCustomer, PortalAgent, escalate


async def escalated(app, agent: PortalAgent, text: str = "I want to talk to a person") -> tuple[ChainlitCustomer, dict]:
    customer = await ChainlitCustomer(app).connect()
    return customer, await escalate(customer, agent, text)


async def test_login_with_a_wrong_password_is_refused(app):
    await app.add_agent("Lee", ["General"])
    async with httpx.AsyncClient(base_url=app.base_url) as http:
        wrong = await http.post("/portal/login", json={"name": "Lee", "password": "guess"})
        garbage = await http.post("/portal/login", content=b"not json")
        too_long = await http.post("/portal/login", json={"name": "Lee", "password": "p" * 200})
        lone_surrogate = await http.post("/portal/login", content=b'{"name": "Lee", "password": "\\ud800"}')
        nested = await http.post("/portal/login", content=b"[" * 5_000 + b"]" * 5_000)
        huge = await http.post("/portal/login", content=b" " * (1024 * 1024))
    assert wrong.status_code == 401 and wrong.json()["error"] == "wrong name or password"
    assert garbage.status_code == 400
    assert too_long.status_code == 401 and lone_surrogate.status_code == 400 and nested.status_code == 400
    assert huge.status_code == 413


def _from(address: str) -> dict[str, str]:
    """Headers of a request from `address` (the app trusts forwarded addresses from 127.0.0.1, as behind a proxy)."""
    return {"X-Forwarded-For": address}


async def test_guessing_an_agents_password_is_paused_after_five_tries(app):
    await app.add_agent("Max", ["General"])
    async with httpx.AsyncClient(base_url=app.base_url, headers=_from("198.51.100.10")) as http:
        guesses = [await http.post("/portal/login", json={"name": "Max", "password": f"guess{n}"}) for n in range(6)]
        right_password_too = await http.post("/portal/login", json={"name": "Max", "password": "Max-password"})
        page = await http.get("/portal")
    assert [g.status_code for g in guesses] == [401] * 5 + [429]
    assert right_password_too.status_code == 429 and "try again" in right_password_too.json()["error"]
    assert int(right_password_too.headers["retry-after"]) > 0
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_guesses_sent_side_by_side_are_counted_too(app):
    await app.add_agent("Pia", ["General"])
    async with httpx.AsyncClient(base_url=app.base_url, headers=_from("198.51.100.11")) as http:
        guesses = await asyncio.gather(
            *(http.post("/portal/login", json={"name": "Pia", "password": f"guess{n}"}) for n in range(12))
        )
    codes = sorted(g.status_code for g in guesses)
    assert codes.count(401) == 5 and codes.count(429) == 7, codes


async def test_guesses_from_one_address_never_lock_out_the_right_password_from_another(app):
    await app.add_agent("Noor", ["General"])
    async with httpx.AsyncClient(base_url=app.base_url) as http:
        login = "/portal/login"
        guesses = [
            await http.post(login, json={"name": "Noor", "password": f"g{n}"}, headers=_from("198.51.100.20"))
            for n in range(6)
        ]
        same_address = await http.post(
            login, json={"name": "noor", "password": "Noor-password"}, headers=_from("198.51.100.20")
        )
        elsewhere = await http.post(
            login, json={"name": "Noor", "password": "Noor-password"}, headers=_from("198.51.100.21")
        )
    assert [g.status_code for g in guesses] == [401] * 5 + [429]
    assert same_address.status_code == 429  # the name is matched whatever its case
    assert elsewhere.status_code == 200


async def test_names_that_do_not_exist_are_throttled_like_those_that_do(app):
    await app.add_agent("Ines", ["General"])
    sprayer = _from("198.51.100.30")
    async with httpx.AsyncClient(base_url=app.base_url) as http:
        sprayed = [
            await http.post("/portal/login", json={"name": f"nobody-{n}", "password": "x"}, headers=sprayer)
            for n in range(21)
        ]
        real_agent_there = await http.post(
            "/portal/login", json={"name": "Ines", "password": "Ines-password"}, headers=sprayer
        )
        real_agent_elsewhere = await http.post(
            "/portal/login", json={"name": "Ines", "password": "Ines-password"}, headers=_from("198.51.100.31")
        )
    assert [r.status_code for r in sprayed] == [401] * 20 + [429]
    assert "try again" in sprayed[-1].json()["error"] and int(sprayed[-1].headers["retry-after"]) > 0
    assert real_agent_there.status_code == 429 and real_agent_elsewhere.status_code == 200


@pytest.mark.parametrize(
    "token", [None, "", "forged.token.value", "eyJhZ2VudCI6IkRhbmEifQ.awjmgQ.AAAAAAAAAAAAAAAAAAAAAAAAAAA"]
)
async def test_a_socket_without_a_valid_token_is_refused(app, token):
    client = socketio.AsyncClient(reconnection=False)
    auth = {} if token is None else {"token": token}
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(app.base_url, socketio_path="/portal/socket.io", transports=["websocket"], auth=auth)
    await client.disconnect()


async def test_escalations_reach_agents_with_the_skill_live_and_no_one_else(app):
    await app.add_agent("Billie", ["Billing"])
    await app.add_agent("Tess", ["Technical"])
    billing = await PortalAgent(app, "Billie").connect()
    technical = await PortalAgent(app, "Tess").connect()
    try:
        customer, ticket = await escalated(app, billing, "I was charged twice for my subscription, get me a human")
        assert "Billing" in ticket["skills"] and ticket["summary"] and ticket["reason"] == "handoff_request"
        assert ticket["waited_seconds"] >= 0
        queue = await technical.call("queue")
        assert ticket["id"] not in [t["id"] for t in queue["tickets"]]
        assert not [t for t in technical.log.named("escalation_request") if t["id"] == ticket["id"]]
        await customer.close()
    finally:
        await billing.close()
        await technical.close()


async def test_two_agents_racing_for_a_ticket_exactly_one_wins_and_the_other_is_told(app):
    await app.add_agent("Ana", ["General"])
    await app.add_agent("Ben", ["General"])
    ana = await PortalAgent(app, "Ana").connect()
    ben = await PortalAgent(app, "Ben").connect()
    try:
        customer, ticket = await escalated(app, ana)
        await ben.log.wait_for("escalation_request", lambda t: t["id"] == ticket["id"])
        first, second = await asyncio.gather(
            ana.call("claim", {"ticket_id": ticket["id"]}), ben.call("claim", {"ticket_id": ticket["id"]})
        )
        assert sorted([first["ok"], second["ok"]]) == [False, True]
        winner, loser = ("Ana", ben) if first["ok"] else ("Ben", ana)
        refusal = second if first["ok"] else first
        assert f"already taken by {winner}" in refusal["error"]
        update = await loser.log.wait_for(
            "ticket_updated", lambda t: t["id"] == ticket["id"] and t["status"] == "assigned"
        )
        assert update["assigned_agent"] == winner
        queue = await loser.call("queue")
        assert ticket["id"] not in [t["id"] for t in queue["tickets"]]
        await customer.close()
    finally:
        await ana.close()
        await ben.close()


async def test_an_agent_cannot_read_or_write_a_ticket_another_agent_holds(app):
    await app.add_agent("Cleo", ["General"])
    await app.add_agent("Dev", ["General"])
    cleo = await PortalAgent(app, "Cleo").connect()
    dev = await PortalAgent(app, "Dev").connect()
    try:
        customer, ticket = await escalated(app, cleo)
        assert (await cleo.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        for event, payload in [
            ("open", {}),
            ("reply", {"text": "let me butt in"}),
            ("typing", {"is_typing": True}),
            ("resolve", {}),
            ("hand_back", {}),
            ("note", {"text": "sneaky"}),
            ("transfer", {"skills": ["Billing"]}),
        ]:
            answer = await dev.call(event, {"ticket_id": ticket["id"], **payload})
            assert answer["ok"] is False and "held by Cleo" in answer["error"], (event, answer)
        opened = await cleo.call("open", {"ticket_id": ticket["id"]})
        assert [m["author"] for m in opened["messages"]] == ["Customer"]  # nothing Dev tried got in
        assert not [m for m in customer.log.named("new_message") if m.get("name") == "Dev"]
        await customer.close()
    finally:
        await cleo.close()
        await dev.close()


async def test_a_supervisor_reads_every_ticket_but_agents_cannot_see_the_overview(app):
    await app.add_agent("Sky", ["General"], supervisor=True)
    await app.add_agent("Eli", ["General"])
    supervisor = await PortalAgent(app, "Sky").connect()
    eli = await PortalAgent(app, "Eli").connect()
    try:
        customer, ticket = await escalated(app, eli)
        assert (await eli.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        overview = await supervisor.call("overview")
        held = next(t for t in overview["tickets"] if t["id"] == ticket["id"])
        assert held["assigned_agent"] == "Eli" and held["waited_seconds"] >= 0
        assert (await supervisor.call("open", {"ticket_id": ticket["id"]}))["ok"]
        assert (await supervisor.call("reply", {"ticket_id": ticket["id"], "text": "hi"}))["ok"] is False
        refused = await eli.call("overview")
        assert refused["ok"] is False and "supervisors" in refused["error"]
        await customer.close()
    finally:
        await supervisor.close()
        await eli.close()


async def test_bad_unknown_and_oversized_events_get_error_acks_and_the_server_keeps_serving(app):
    await app.add_agent("Fay", ["General"])
    agent = await PortalAgent(app, "Fay").connect()
    try:
        unknown = await agent.call("delete_everything", {"all": True})
        assert unknown["ok"] is False and "unknown event" in unknown["error"]
        numbered = await agent.sio.call(123, {}, timeout=15)  # the frame 42[123,{}]: an event named by a number
        assert numbered["ok"] is False and "unknown event '123'" in numbered["error"]
        for payload in [None, "a string", {"ticket_id": 5}, {"ticket_id": "../../etc"}, {"ticket_id": "x", "extra": 1}]:
            answer = await agent.call("claim", payload)
            assert answer["ok"] is False and answer["error"].startswith("invalid claim"), (payload, answer)
        oversized = await agent.call("reply", {"ticket_id": "abc", "text": "x" * 5000})
        assert oversized["ok"] is False and "at most 4000" in oversized["error"]
        missing = await agent.call("claim", {"ticket_id": "doesnotexist"})
        assert missing["ok"] is False and "does not exist" in missing["error"]
        several = await agent.sio.call("claim", ({"ticket_id": "a"}, {"ticket_id": "b"}), timeout=15)
        assert several["ok"] is False and "one payload object" in several["error"]
        assert (await agent.call("queue"))["ok"] is True
    finally:
        await agent.close()


async def test_a_client_cannot_replay_the_handshake_or_fake_its_own_disconnect(app):
    await app.add_agent("Jo", ["General"])
    await app.add_agent("Lu", ["Billing"], supervisor=True)
    jo = await PortalAgent(app, "Jo").connect()
    watcher = await PortalAgent(app, "Lu").connect()
    try:
        supervisor_token = await PortalAgent(app, "Lu").login()
        as_supervisor = await jo.sio.call("connect", ({}, {"token": supervisor_token}), timeout=15)
        assert as_supervisor["ok"] is False and "reserved" in as_supervisor["error"]
        assert (await jo.call("overview"))["ok"] is False  # still Jo, with Jo's rights
        gone = await jo.sio.call("disconnect", "client disconnect", timeout=15)
        assert gone["ok"] is False and "reserved" in gone["error"]
        assert not [p for p in watcher.log.named("presence") if p["agent"] == "Jo" and not p["online"]]
        assert (await jo.call("queue"))["ok"] is True
    finally:
        await jo.close()
        await watcher.close()


async def test_copilot_drafts_reach_only_the_agent_and_can_be_sent_or_discarded(app):
    await app.add_agent("Gus", ["General", "Account"])
    agent = await PortalAgent(app, "Gus").connect()
    customer = None
    try:
        customer, ticket = await escalated(app, agent, "I need a human to help me reset my password")
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        draft = await agent.log.wait_for("copilot_suggestion", lambda d: d["ticket_id"] == ticket["id"])
        assert "password" in draft["content"].lower()
        assert not [m for m in customer.log.named("new_message") if "Here's what I found" in (m.get("output") or "")]
        assert (await agent.call("discard_draft", {"ticket_id": ticket["id"], "draft_id": draft["draft_id"]}))["ok"]

        await customer.say("and what about two-factor authentication?")
        second = await agent.log.wait_for(
            "copilot_suggestion", lambda d: d["ticket_id"] == ticket["id"] and d["draft_id"] != draft["draft_id"]
        )
        edited = second["content"] + "\n\nAnything else I can do?"
        sent = await agent.call("reply", {"ticket_id": ticket["id"], "text": edited, "draft_id": second["draft_id"]})
        assert sent["ok"]
        await customer.message_from("Gus", "Anything else I can do?")
    finally:
        if customer:
            await customer.close()
        await agent.close()


async def test_a_draft_is_kept_with_the_ticket_asked_for_again_and_marked_stale_once_the_agent_replies(app):
    await app.add_agent("Ivo", ["General", "Billing", "Account"])
    await app.add_agent("Wren", ["General", "Billing", "Account"])
    agent = await PortalAgent(app, "Ivo").connect()
    customer = reloaded = colleague = None
    try:
        customer, ticket = await escalated(
            app, agent, "I want to talk to a person. How long until I see the money back after a refund?"
        )
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        draft = await agent.log.wait_for("copilot_suggestion", lambda d: d["ticket_id"] == ticket["id"])
        assert "5 to 10 business days" in draft["content"]  # the section that answers "how long"
        reloaded = await PortalAgent(app, "Ivo").connect()  # the agent reloads the portal
        opened = await reloaded.call("open", {"ticket_id": ticket["id"]})
        assert opened["draft"] == {"draft_id": draft["draft_id"], "content": draft["content"], "stale": False}
        fresh = await reloaded.call("request_draft", {"ticket_id": ticket["id"]})
        assert fresh["ok"] and fresh["draft"]["draft_id"] != draft["draft_id"]
        assert (await reloaded.call("reply", {"ticket_id": ticket["id"], "text": "Let me check your refund."}))["ok"]
        assert (await reloaded.call("open", {"ticket_id": ticket["id"]}))["draft"]["stale"] is True
        moved = await reloaded.call("transfer", {"ticket_id": ticket["id"], "to_agent": "Wren"})
        assert moved["ok"]
        colleague = await PortalAgent(app, "Wren").connect()
        assert (await colleague.call("open", {"ticket_id": ticket["id"]}))["draft"]["draft_id"] == fresh["draft"][
            "draft_id"
        ]
        refused = await agent.call("request_draft", {"ticket_id": ticket["id"]})  # Ivo no longer holds it
        assert refused["ok"] is False
    finally:
        for client in (customer, reloaded, colleague):
            if client:
                await client.close()
        await agent.close()


async def test_hand_back_returns_the_customer_to_the_assistant(app):
    await app.add_agent("Hal", ["General"])
    agent = await PortalAgent(app, "Hal").connect()
    customer = None
    try:
        customer, ticket = await escalated(app, agent)
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        assert (await agent.call("note", {"ticket_id": ticket["id"], "text": "VIP customer"}))["ok"]
        handed = await agent.call("hand_back", {"ticket_id": ticket["id"]})
        assert handed["ok"] and handed["ticket"]["status"] == "handed_back"
        await customer.text_shown("You're back with the assistant")
        await customer.say("How do I change my payment method?")
        await customer.message_from("Assistant", "Payment")
        assert not [m for m in customer.log.named("new_message") if "VIP" in (m.get("output") or "")]
    finally:
        if customer:
            await customer.close()
        await agent.close()


async def test_transfer_moves_the_ticket_to_the_other_skills_queue(app):
    await app.add_agent("Ivy", ["General"])
    await app.add_agent("Jay", ["Technical"])
    ivy = await PortalAgent(app, "Ivy").connect()
    jay = await PortalAgent(app, "Jay").connect()
    customer = None
    try:
        customer, ticket = await escalated(app, ivy)
        assert (await ivy.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        moved = await ivy.call("transfer", {"ticket_id": ticket["id"], "skills": ["Technical"]})
        assert moved["ok"] and moved["ticket"]["status"] == "waiting"
        request = await jay.log.wait_for("escalation_request", lambda t: t["id"] == ticket["id"])
        assert "Transferred by Ivy to the Technical queue." in request["summary"]
        released = await ivy.log.wait_for(
            "ticket_updated", lambda t: t["id"] == ticket["id"] and t["status"] == "waiting"
        )
        assert released["assigned_agent"] is None  # Ivy's page learns the ticket left her
        # Told at the bottom of the chat, as a line of its own that stays, then the queue line.
        await customer.message_from("Support", "Ivy passed your conversation to our Technical team")
        await customer.log.wait_for(
            "new_message", lambda m: "Connecting you to an agent. You're" in (m.get("output") or "")
        )
        shown = [m["output"] for m in customer.log.named("new_message") if m.get("name") == "Support"]
        assert sum("Connecting you to an agent" in text for text in shown[-2:]) == 1  # said once, by the queue line
        assert (await jay.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        await customer.message_from("Support", "Jay joined the conversation")
        edited = [m["output"] for m in customer.log.named("update_message") if m.get("name") == "Support"]
        assert not [text for text in edited if "Ivy passed" in text or "Jay joined" in text or "Ivy joined" in text]
    finally:
        if customer:
            await customer.close()
        await ivy.close()
        await jay.close()


async def test_an_agent_at_their_chat_limit_cannot_claim_more(app):
    await app.add_agent("Kim", ["General"], max_chats=1)
    agent = await PortalAgent(app, "Kim").connect()
    customers = []
    try:
        for _ in range(2):
            customer, ticket = await escalated(app, agent)
            customers.append((customer, ticket))
        assert (await agent.call("claim", {"ticket_id": customers[0][1]["id"]}))["ok"]
        over = await agent.call("claim", {"ticket_id": customers[1][1]["id"]})
        assert over["ok"] is False and "limit" in over["error"]
    finally:
        for customer, _ in customers:
            await customer.close()
        await agent.close()


async def test_a_change_of_rights_moves_the_agents_socket_to_the_right_rooms(app):
    await app.add_agent("Kai", ["Billing"], supervisor=True)
    await app.add_agent("Bo", ["Billing"])
    kai = await PortalAgent(app, "Kai").connect()
    bo = await PortalAgent(app, "Bo").connect()
    customers = []
    try:
        await app.add_agent("Kai", ["Shipping"])  # an admin moves Kai to Shipping and ends the supervisor role
        assert (await kai.call("queue"))["ok"]  # Kai's next event: the server re-reads Kai's rights
        changed = await kai.log.wait_for("rights_changed")
        assert changed["skills"] == ["Shipping"] and not changed["is_supervisor"]

        customer, billing_ticket = await escalated(app, bo, "I was charged twice for my invoice, get me a human")
        customers.append(customer)
        shipping_customer = await ChainlitCustomer(app).connect()
        customers.append(shipping_customer)
        await shipping_customer.say("my parcel with order NW-31337 never arrived, I want a person")
        await kai.log.wait_for("escalation_request", lambda t: "Shipping" in t["skills"])
        await kai.call("queue")  # anything sent to Kai before this acknowledgement has arrived by now
        assert not [t for t in kai.log.named("escalation_request") if t["id"] == billing_ticket["id"]]
        assert not [t for t in kai.log.named("ticket_updated") if t["id"] == billing_ticket["id"]]
    finally:
        for customer in customers:
            await customer.close()
        await kai.close()
        await bo.close()


async def test_a_socket_is_ended_when_its_login_expires(app):
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class IssuedLongAgo(TimestampSigner):
        def get_timestamp(self) -> int:  # signed with the app's secret, five seconds from expiry
            return super().get_timestamp() - int(app.settings.portal_token_hours * 3600) + 5

    await app.add_agent("Ida", ["General"])
    signing = URLSafeTimedSerializer(app.settings.portal_secret, salt="agent-portal", signer=IssuedLongAgo)
    token = signing.dumps({"agent": "Ida"})
    ida = await PortalAgent(app, "Ida").connect(token)
    try:
        assert (await ida.call("queue"))["ok"]
        ended = await ida.log.wait_for("session_ended", timeout=20)
        assert "expired" in ended["reason"]
        await asyncio.wait_for(ida.sio.wait(), 5)  # the server hung up
        assert not ida.sio.connected
    finally:
        await ida.close()


async def test_an_agent_with_the_skill_reads_a_waiting_ticket_before_claiming_it_and_others_cannot(app):
    await app.add_agent("Pree", ["General", "Billing", "Account"])
    await app.add_agent("Nope", ["Technical"])
    pree, nope = await PortalAgent(app, "Pree").connect(), await PortalAgent(app, "Nope").connect()
    customer, ticket = await escalated(app, pree, "can I talk to someone real? it's about my invoice")
    try:
        preview = await pree.call("open", {"ticket_id": ticket["id"]})
        assert preview["ok"] and preview["preview"] is True and preview["draft"] is None
        assert "it's about my invoice" in [m["content"] for m in preview["messages"]][-1]
        replied = await pree.call("reply", {"ticket_id": ticket["id"], "text": "hi"})
        assert replied["ok"] is False and "claim it first" in replied["error"]
        refused = await nope.call("open", {"ticket_id": ticket["id"]})
        assert refused["ok"] is False
        assert (await pree.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        held = await pree.call("open", {"ticket_id": ticket["id"]})
        assert held["preview"] is False and held["earlier_tickets"] == []
    finally:
        await customer.close()
        await pree.close()
        await nope.close()


async def test_a_supervisors_canned_reply_reaches_every_agent_and_fills_the_customers_name_and_order(app):
    await app.add_agent("Sana", ["General"], supervisor=True)
    await app.add_agent("Cato", ["General", "Shipping"])
    sana, cato = await PortalAgent(app, "Sana").connect(), await PortalAgent(app, "Cato").connect()
    customer, ticket = await escalated(
        app, cato, "My order NW-55512 never arrived and I want to talk to a person. My name is Maria Lopez."
    )
    try:
        saved = await sana.call(
            "save_canned_reply",
            {
                "shortcut": "where-is-it",
                "title": "Order status",
                "text": "Hi {name}, order {order_number}: {tracking_link}",
            },
        )
        assert saved["ok"], saved
        reply_id = saved["reply"]["id"]
        changed = await cato.log.wait_for(
            "canned_replies_changed", lambda e: any(r["id"] == reply_id for r in e["replies"])
        )
        assert [r["shortcut"] for r in changed["replies"] if r["id"] == reply_id] == ["where-is-it"]

        assert (await cato.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        filled = await cato.call("canned_reply", {"ticket_id": ticket["id"], "reply_id": reply_id})
        assert filled == {
            "ok": True,
            "text": "Hi Maria Lopez, order NW-55512: {tracking_link}",
            "missing": ["tracking_link"],
        }

        by_agent = await cato.call("save_canned_reply", {"shortcut": "mine", "text": "x"})
        assert by_agent["ok"] is False and "only supervisors" in by_agent["error"]
        twice = await sana.call("save_canned_reply", {"shortcut": "where-is-it", "text": "again"})
        assert twice["ok"] is False and "already has the shortcut /where-is-it" in twice["error"]
        bad = await sana.call("save_canned_reply", {"shortcut": "Has Spaces", "text": "x"})
        assert bad["ok"] is False and "shortcut" in bad["error"]
        edited = await sana.call(
            "save_canned_reply", {"id": reply_id, "shortcut": "where-is-it", "text": "Hello {name}"}
        )
        assert edited["ok"] and edited["reply"]["text"] == "Hello {name}"
        assert (await sana.call("delete_canned_reply", {"id": reply_id}))["ok"]
        listed = await cato.call("canned_replies")
        assert reply_id not in [r["id"] for r in listed["replies"]]
        gone = await cato.call("canned_reply", {"ticket_id": ticket["id"], "reply_id": reply_id})
        assert gone["ok"] is False and "no canned reply" in gone["error"]
    finally:
        await customer.close()
        await sana.close()
        await cato.close()


async def test_search_finds_a_resolved_ticket_by_order_number_or_words_for_those_who_may_see_it(app):
    await app.add_agent("Seek", ["General", "Shipping", "Account", "Billing", "Technical"])
    seek = await PortalAgent(app, "Seek").connect()
    customer, ticket = await escalated(app, seek, "my order NW-7777123 arrived broken, a human please")
    all_skills = ["General", "Shipping", "Account", "Billing", "Technical"]
    await app.add_agent("Other", [skill for skill in all_skills if skill not in ticket["skills"]])
    other = await PortalAgent(app, "Other").connect()
    try:
        assert (await seek.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        assert (await seek.call("resolve", {"ticket_id": ticket["id"]}))["ok"]
        by_number = await seek.call("search", {"query": "nw-7777123", "scope": "closed"})
        assert [(t["id"], t["status"]) for t in by_number["tickets"]] == [(ticket["id"], "resolved")]
        assert by_number["tickets"][0]["closed_at"]
        by_words = await seek.call("search", {"query": "arrived   BROKEN"})
        assert ticket["id"] in [t["id"] for t in by_words["tickets"]]
        assert (await seek.call("search", {"query": "NW-7777123", "scope": "open"}))["tickets"] == []
        assert (await other.call("search", {"query": "NW-7777123"}))["tickets"] == []  # not their skills, never held
        wildcards = await seek.call("search", {"query": "%_\\"})
        assert wildcards["ok"] and ticket["id"] not in [t["id"] for t in wildcards["tickets"]]
        closed = await seek.call("search", {"scope": "closed"})
        assert ticket["id"] in [t["id"] for t in closed["tickets"]]
        too_long = await seek.call("search", {"query": "x" * 201})
        assert too_long["ok"] is False
    finally:
        await customer.close()
        await seek.close()
        await other.close()
