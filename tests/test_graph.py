"""The escalation state machine through the conversation service, on embedded defaults."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from langgraph.types import Command

from engine.brief import write_brief
from engine.business_hours import BusinessHours
from engine.events import PORTAL_TOPIC, TicketView, thread_topic
from engine.graph import now_iso
from engine.service import ActionRefused, ConversationService
from tests.conftest import settings_for
from tests.helpers import Recorder, kinds, race_one_agent_for_tickets, say


async def escalated_ticket(service: ConversationService, thread_id: str, text: str = "I want to talk to a human"):
    await say(service, thread_id, text)
    ticket = await service.tickets.open_for_thread(thread_id)
    assert ticket is not None
    return ticket


async def test_a_knowledge_base_question_is_answered_with_streamed_tokens_and_its_article(service):
    events = await say(service, "t-answer", "How do I reset my password?")
    tokens = [event for event in events if event.type == "token_stream"]
    answer = events[-1]
    assert len(tokens) > 5
    assert answer.type == "assistant_answer"
    assert "".join(token.token for token in tokens).strip() == answer.content
    assert answer.sources and "password" in answer.sources[0].lower()
    assert (await service.state("t-answer"))["mode"] == "ai"
    assert await service.tickets.open_for_thread("t-answer") is None


async def test_small_talk_is_answered_not_escalated(service):
    events = await say(service, "t-hello", "hello!")
    assert kinds(events) == ["assistant_answer"]


@pytest.mark.parametrize(
    ("goodbye", "reply"),
    [("Thank you so much, have a nice day!", "You're welcome"), ("Merci beaucoup, c'est tout !", "Avec plaisir")],
)
async def test_a_goodbye_in_any_language_is_answered_in_it_and_never_escalated(service, goodbye, reply):
    await say(service, "t-bye", "How do I reset my password?")
    events = await say(service, "t-bye", goodbye)
    assert kinds(events) == ["assistant_answer"] and events[-1].content.startswith(reply)
    assert await service.tickets.open_for_thread("t-bye") is None


async def test_the_ticket_carries_the_customers_language_for_an_agent_who_speaks_it(service):
    ticket = await escalated_ticket(service, "t-lang", "Hola, quiero hablar con una persona de soporte, por favor")
    assert ticket.reason == "handoff_request" and ticket.language == "es"
    assert (await service.state("t-lang"))["brief"]["language"] == "es"


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        (["can I talk to someone real"], "handoff_request"),
        (["THIS IS RIDICULOUS, third time I'm asking and NOTHING WORKS!!!"], "frustration"),
        (["Do you have an office in Berlin I can visit?"], "low_confidence"),
        (["How do I reset my password?", "how do i reset my password"], "repeated_question"),
        (["How do I reset my password?", "did all of that, the link still says it expired"], "repeated_question"),
        (["Can you reissue my invoice INV-3307 with our new VAT number?"], "account_action"),
        (["Ich möchte bitte mit einem Menschen sprechen"], "handoff_request"),
    ],
)
async def test_each_escalation_reason_opens_a_waiting_ticket(service, messages, reason):
    portal = Recorder()
    service.bus.subscribe(PORTAL_TOPIC, portal)
    for text in messages:
        events = await say(service, f"t-{reason}", text)
    assert kinds(events)[:2] == ["status_change", "queue_position"]
    assert events[-2].mode == "waiting" if events[-2].type == "status_change" else True
    ticket = await service.tickets.open_for_thread(f"t-{reason}")
    assert ticket.status == "waiting" and ticket.reason == reason
    (request,) = await portal.wait_for("escalation_request")
    assert request.ticket.id == ticket.id and request.ticket.summary


async def test_the_handoff_brief_carries_what_the_customer_already_said(service):
    await say(service, "t-brief", "Hi, I'm Priya Raman, how long does Hub shipping take? email priya@example.org")
    ticket = await escalated_ticket(service, "t-brief", "my order NW-55012 hasn't arrived, get me your supervisor")
    assert ticket.customer_facts["name"] == "Priya Raman"
    assert ticket.customer_facts["order_number"] == "NW-55012"
    assert ticket.customer_facts["email"] == "priya@example.org"
    assert "Shipping" in ticket.skills
    brief = (await service.state("t-brief"))["brief"]
    assert brief["reason"] == "handoff_request" and brief["sentiment_trend"]


async def test_what_the_customer_says_while_waiting_reaches_the_brief(service):
    portal = Recorder()
    service.bus.subscribe(PORTAL_TOPIC, portal)
    ticket = await escalated_ticket(service, "t-later", "agent please")
    assert ticket.customer_facts == {}
    await say(service, "t-later", "I'm Maria Lopez, maria@example.com, order NWH-123456")
    updates = await portal.wait_for("ticket_updated")
    assert updates[-1].ticket.customer_facts == {
        "name": "Maria Lopez",
        "email": "maria@example.com",
        "order_number": "NWH-123456",
    }
    assert (await service.tickets.get(ticket.id)).customer_facts["order_number"] == "NWH-123456"


async def test_a_message_id_the_front_end_reuses_never_overwrites_what_was_said(service):
    async def send(thread_id: str, text: str) -> list:
        return [event async for event in service.customer_message(thread_id, text, "client-chosen-id")]

    await send("t-ids-a", "How do I reset my password?")
    assert await send("t-ids-a", "How do I reset my password?") == []  # the same message sent twice
    await send("t-ids-a", "and how do I turn on two-factor?")
    await send("t-ids-b", "where is my order?")  # another customer, the same id
    said_in_a = [m["content"] for m in await service.history("t-ids-a") if m["role"] == "customer"]
    said_in_b = [m["content"] for m in await service.history("t-ids-b") if m["role"] == "customer"]
    assert said_in_a == ["How do I reset my password?", "and how do I turn on two-factor?"]
    assert said_in_b == ["where is my order?"]


async def test_a_message_whose_turn_a_crash_cut_short_is_answered_once_when_sent_again(service):
    """A turn writes its checkpoint at its end: a process that died mid-turn left the message in the
    transcript and nothing in the checkpoint. The customer's resend (same id) is taken from the start."""
    said = {"id": "resent-id", "role": "customer", "author": "Customer", "content": "How do I reset my password?"}
    await service.transcript.record("t-resent", [{**said, "at": now_iso()}])
    events = [event async for event in service.customer_message("t-resent", said["content"], said["id"])]
    assert kinds(events)[-1] == "assistant_answer" and "Resetting Your Password" in events[-1].content
    assert [event async for event in service.customer_message("t-resent", said["content"], said["id"])] == []
    assert [m["role"] for m in await service.history("t-resent")] == ["customer", "assistant"]


async def test_a_message_sent_again_after_later_turns_is_answered_only_if_it_never_was(service):
    def customer(message_id: str, text: str) -> dict:
        return {"id": message_id, "role": "customer", "author": "Customer", "content": text, "at": now_iso()}

    async def send(message_id: str, text: str) -> list:
        return [event async for event in service.customer_message("t-later", text, message_id)]

    await send("answered-id", "How do I turn on two-factor authentication?")
    await service.transcript.record("t-later", [customer("crashed-id", "How do I reset my password?")])  # no run
    await send("later-id", "and how do I create an API key?")
    assert await send("answered-id", "How do I turn on two-factor authentication?") == []  # answered already
    again = await send("crashed-id", "How do I reset my password?")
    assert "Resetting Your Password" in again[-1].content  # judged as that message, not the latest one
    history = await service.history("t-later")
    assert [m["role"] for m in history].count("assistant") == 3 and len(history) == 6  # one answer each


async def test_a_crash_between_leaving_the_queue_and_closing_the_ticket_closes_it_at_the_restart(service):
    ticket = await escalated_ticket(service, "t-left")
    config = {"configurable": {"thread_id": "t-left"}}
    async for _ in service.graph.astream(Command(resume={"kind": "withdraw"}), config, context=service.context):
        pass  # the withdrawal reached the thread; the process died before the ticket was closed
    portal = Recorder()
    service.bus.subscribe(PORTAL_TOPIC, portal)
    assert await service.repair_interrupted_escalations() == 0
    assert (await service.state("t-left"))["mode"] == "ai"
    assert (await service.tickets.get(ticket.id)).status == "withdrawn"  # not left in the queue, unclaimable
    assert [e.ticket.status for e in portal.of("ticket_updated")] == ["withdrawn"]  # agents see it leave


async def test_agent_claims_replies_and_the_paused_thread_records_each_action(service):
    customer = Recorder()
    service.bus.subscribe(thread_topic("t-loop"), customer)
    dana = await service.tickets.add_agent("Dana", "pw", ["General"])
    ticket = await escalated_ticket(service, "t-loop")

    await service.claim(ticket.id, dana)
    (joined,) = await customer.wait_for("agent_joined")
    assert joined.agent_name == "Dana"
    await service.reply(ticket.id, dana, "Hi, Dana here. How can I help?")
    (reply,) = await customer.wait_for("agent_message")
    assert reply.content == "Hi, Dana here. How can I help?" and reply.agent_name == "Dana"

    events = await say(service, "t-loop", "My invoice is wrong")
    assert kinds(events) == ["customer_message"]  # delivered to the agent, not answered by the AI
    state = await service.state("t-loop")
    assert state["mode"] == "human" and state["assigned_agent"] == "Dana"
    assert [m["role"] for m in await service.history("t-loop")] == ["customer", "agent", "customer"]


async def test_hand_back_returns_the_customer_to_the_assistant_with_the_whole_history(service):
    dana = await service.tickets.add_agent("Dana", "pw", ["General"])
    ticket = await escalated_ticket(service, "t-back")
    await service.claim(ticket.id, dana)
    await service.reply(ticket.id, dana, "I've fixed your account.")
    await service.hand_back(ticket.id, dana)

    events = await say(service, "t-back", "How do I set up two-factor authentication?")
    assert kinds(events) == ["assistant_answer"]
    state = await service.state("t-back")
    assert state["mode"] == "ai"
    assert [m["role"] for m in await service.history("t-back")] == ["customer", "agent", "customer", "assistant"]
    assert (await service.tickets.get(ticket.id)).status == "handed_back"


async def test_resolve_closes_the_ticket_and_the_customer_can_rate_it(service):
    customer = Recorder()
    service.bus.subscribe(thread_topic("t-resolve"), customer)
    dana = await service.tickets.add_agent("Dana", "pw", ["General"])
    ticket = await escalated_ticket(service, "t-resolve")
    await service.claim(ticket.id, dana)
    await service.resolve(ticket.id, dana)
    await customer.wait_for("resolved")
    assert (await service.state("t-resolve"))["mode"] == "resolved"
    rated = await service.rate("t-resolve", 5)
    assert rated.rating == 5 and rated.status == "resolved"
    with pytest.raises(ActionRefused):
        await service.rate("t-resolve", 9)
    with pytest.raises(ActionRefused, match="already rated"):
        await service.rate("t-resolve", 1)
    assert (await service.tickets.get(ticket.id)).rating == 5


async def test_an_empty_message_is_ignored_and_an_oversized_one_is_refused_without_storing(service):
    assert await say(service, "t-bad", "   ") == []
    events = await say(service, "t-bad", "x" * 4001)
    assert kinds(events) == ["error"] and "4,000" in events[0].message
    assert await service.history("t-bad") == []


async def test_acting_on_a_ticket_that_is_not_waiting_for_an_agent_is_refused_and_changes_nothing(service):
    dana = await service.tickets.add_agent("Dana", "pw", ["General"])
    with pytest.raises(ActionRefused, match="does not exist"):
        await service.claim("no-such-ticket", dana)
    ticket = await escalated_ticket(service, "t-refuse")
    with pytest.raises(ActionRefused, match="claim it first"):
        await service.reply(ticket.id, dana, "hello")
    await service.claim(ticket.id, dana)
    await service.resolve(ticket.id, dana)
    with pytest.raises(ActionRefused):
        await service.reply(ticket.id, dana, "still there?")
    assert [m["role"] for m in await service.history("t-refuse")] == ["customer"]


async def test_an_agent_cannot_act_on_a_ticket_another_agent_holds(service):
    dana = await service.tickets.add_agent("Dana", "pw", ["General"])
    sam = await service.tickets.add_agent("Sam", "pw", ["General"])
    ticket = await escalated_ticket(service, "t-other")
    await service.claim(ticket.id, dana)
    with pytest.raises(ActionRefused, match="held by Dana"):
        await service.reply(ticket.id, sam, "I'll take over")
    with pytest.raises(ActionRefused, match="already taken by Dana"):
        await service.claim(ticket.id, sam)
    with pytest.raises(ActionRefused):
        await service.conversation(ticket.id, sam)


async def test_an_agent_cannot_claim_a_ticket_outside_their_skills_but_a_supervisor_can(service):
    billing = await service.tickets.add_agent("Bea", "pw", ["Billing"])
    lead = await service.tickets.add_agent("Lee", "pw", ["Billing"], is_supervisor=True)
    ticket = await escalated_ticket(
        service, "t-skills", "my API calls fail with 500 errors, I want to talk to a person"
    )
    assert "Technical" in ticket.skills and "Billing" not in ticket.skills
    with pytest.raises(ActionRefused, match="needs Technical"):
        await service.claim(ticket.id, billing)
    assert (await service.tickets.get(ticket.id)).status == "waiting"
    assert (await service.claim(ticket.id, lead)).assigned_agent == "Lee"


async def test_an_agent_clicking_claim_on_many_tickets_at_once_stays_within_their_limit(service):
    claimed, refused = await race_one_agent_for_tickets(service, tickets=5, max_chats=3)
    assert len(claimed) == 3 and len(refused) == 2
    assert all(isinstance(error, ActionRefused) and "your limit" in str(error) for error in refused)


async def test_a_waiting_customer_learns_their_place_as_the_queue_moves(service):
    first, second, third = Recorder(), Recorder(), Recorder()
    dana = await service.tickets.add_agent("Dana", "pw", ["General"])
    await service.agents_present("portal-process", {"Dana"})  # Dana has the portal open
    for thread_id, recorder in (("q-1", first), ("q-2", second), ("q-3", third)):
        service.bus.subscribe(thread_topic(thread_id), recorder)
    one = await escalated_ticket(service, "q-1", "I want a human")
    events = await say(service, "q-2", "I want a human")
    assert [e.position for e in events if e.type == "queue_position"] == [2]
    await say(service, "q-3", "I want a human")
    assert not first.of("queue_position") and not second.of("queue_position")  # nobody behind moved
    await service.claim(one.id, dana)
    (moved,) = await second.wait_for("queue_position")
    assert moved.position == 1 and moved.estimated_wait_seconds > 0
    (also_moved,) = await third.wait_for("queue_position")
    assert also_moved.position == 2


async def test_a_customers_place_counts_only_tickets_the_same_agents_could_take(service):
    await say(service, "s-tech-1", "my API calls fail with 500 errors, get me a human")
    await say(service, "s-tech-2", "the webhook integration is broken, I want a person")
    billing = await say(service, "s-bill", "I was charged twice on my invoice, get me a human")
    assert [e.position for e in billing if e.type == "queue_position"] == [1]  # nobody in Billing ahead
    tech = await say(service, "s-tech-3", "my API calls time out, get me a human")
    assert [e.position for e in tech if e.type == "queue_position"] == [3]


async def test_copilot_drafts_a_reply_for_the_agent_only(service):
    portal, customer = Recorder(), Recorder()
    service.bus.subscribe(PORTAL_TOPIC, portal)
    service.bus.subscribe(thread_topic("t-copilot"), customer)
    dana = await service.tickets.add_agent("Dana", "pw", ["Account", "General"])
    ticket = await escalated_ticket(service, "t-copilot", "I need a person to help me reset my password")
    await service.claim(ticket.id, dana)
    (draft,) = await portal.wait_for("copilot_suggestion")
    assert draft.ticket_id == ticket.id and "password" in draft.content.lower()
    assert not customer.of("copilot_suggestion")


async def test_transfer_to_another_skill_puts_the_ticket_back_in_the_queue(service):
    dana = await service.tickets.add_agent("Dana", "pw", ["General"])
    ticket = await escalated_ticket(service, "t-transfer")
    await service.claim(ticket.id, dana)
    moved = await service.transfer(ticket.id, dana, skills=["Billing"])
    assert moved.status == "waiting" and moved.skills == ["Billing"] and moved.assigned_agent is None
    assert (await service.state("t-transfer"))["mode"] == "waiting"
    with pytest.raises(ActionRefused, match="unknown skills"):
        await service.transfer(ticket.id, dana, skills=["Astrology"])


async def test_a_closed_ticket_takes_no_more_actions_even_after_the_customer_escalates_again(service):
    dana = await service.tickets.add_agent("Dana", "pw", ["General"])
    old = await escalated_ticket(service, "t-stale")
    await service.claim(old.id, dana)
    await service.hand_back(old.id, dana)
    new = await escalated_ticket(service, "t-stale", "I need a human again")
    assert new.id != old.id and new.status == "waiting"
    with pytest.raises(ActionRefused, match="handed back; it takes no more actions"):
        await service.reply(old.id, dana, "replying through the old ticket")
    with pytest.raises(ActionRefused):
        await service.conversation(old.id, dana)
    assert [m["role"] for m in await service.history("t-stale")] == ["customer", "customer"]


async def test_a_long_conversation_keeps_every_message_while_the_checkpointed_state_stays_small(service):
    await say(service, "t-long", "How do I reset my password?")
    for _ in range(12):
        await say(service, "t-long", "thanks!")
    ticket = await escalated_ticket(service, "t-long", "now I want a human")
    history = await service.history("t-long")
    state = await service.state("t-long")
    assert len(history) == 27 and history[0]["content"] == "How do I reset my password?"
    assert "messages" not in state and state["message"]["content"] == "now I want a human"  # no window either
    assert "How do I reset my password?" in ticket.summary  # the brief still sees the whole conversation


async def test_a_question_in_another_language_gets_the_article_and_a_line_in_that_language(service):
    events = await say(service, "t-es", "¿Cómo restablezco mi contraseña? No la recuerdo")
    answer = events[-1]
    assert answer.type == "assistant_answer" and answer.sources == ["Resetting Your Password"]
    assert answer.content.startswith("Nuestros artículos de ayuda están en inglés")
    assert (await service.state("t-es"))["turn"]["language"] == "es"


async def test_a_short_follow_up_is_answered_from_the_question_it_follows(service):
    await say(service, "t-follow", "How do I reset my password?")
    events = await say(service, "t-follow", "and how long does that stay valid?")
    assert kinds(events) == ["assistant_answer"]
    assert events[-1].sources == ["Resetting Your Password"] and "60 minutes" in events[-1].content


async def test_the_brief_leads_with_the_problem_not_the_introduction_or_the_request(service):
    await say(service, "t-problem", "Hello, Rosa Delgado here, rosa.delgado@example.org")
    await say(service, "t-problem", "I was charged twice this month on invoice INV-20931, how do I get a refund?")
    ticket = await escalated_ticket(service, "t-problem", "I'd like to talk to a human")
    assert ticket.summary.startswith("Problem: “I was charged twice this month on invoice INV-20931")
    assert "Wants: a refund." in ticket.summary and "invoice number INV-20931" in ticket.summary
    assert "Hello, Rosa" not in ticket.summary  # the introduction is in the facts, not the problem
    brief = (await service.state("t-problem"))["brief"]
    assert brief["problem"].startswith("I was charged twice") and brief["wants"] == "a refund"
    assert "positive" not in brief["sentiment_trend"]  # a double charge is no cause for cheer, however polite


async def test_an_unrelated_question_after_an_answer_is_not_answered_from_that_article(service):
    await say(service, "t-offtopic", "How do I reset my password?")
    events = await say(service, "t-offtopic", "what's the weather going to be like in Lisbon tomorrow?")
    assert "assistant_answer" not in kinds(events)
    assert (await service.tickets.open_for_thread("t-offtopic")).reason == "low_confidence"


async def test_an_introduction_is_greeted_with_what_was_noted_not_answered_from_an_article(service):
    events = await say(
        service, "t-intro", "Hi, I'm Maria Lopez, my email is maria.lopez@example.com and my phone is +1 415 555 0100"
    )
    assert kinds(events) == ["assistant_answer"] and events[-1].sources == []
    assert events[-1].content.startswith("Hi Maria")
    assert "maria.lopez@example.com" in events[-1].content and "+1 415 555 0100" in events[-1].content


async def test_after_a_hand_back_the_assistant_answers_from_what_the_customer_and_the_agent_said(service):
    dana = await service.tickets.add_agent("Dana", "pw", ["General", "Billing"])
    await say(service, "t-recall", "I was charged twice this month on invoice INV-20931")
    ticket = await escalated_ticket(service, "t-recall", "can I talk to a human please")
    await service.claim(ticket.id, dana)
    await service.reply(
        ticket.id, dana, "I've refunded the duplicate charge. It takes 5 to 10 business days to show on your card."
    )
    await service.hand_back(ticket.id, dana)
    number = await say(service, "t-recall", "what was the invoice number I gave you earlier?")
    assert kinds(number) == ["assistant_answer"] and "INV-20931" in number[-1].content
    refund = await say(service, "t-recall", "remind me, how long will the refund take?")
    assert kinds(refund) == ["assistant_answer"]
    assert "Dana" in refund[-1].content and "5 to 10 business days" in refund[-1].content


async def test_a_waiting_customers_place_never_rises_when_a_more_urgent_customer_arrives(service):
    calm = Recorder()
    service.bus.subscribe(thread_topic("p-calm"), calm)
    told = [e.position for e in await say(service, "p-calm", "I want a human") if e.type == "queue_position"]
    angry = await say(service, "p-angry", "this is ridiculous, worst service ever, get me a human NOW")
    urgent = await service.tickets.open_for_thread("p-angry")
    first = await service.tickets.open_for_thread("p-calm")
    assert urgent.priority > first.priority  # agents see the angry customer first
    assert [t.id for t in await service.tickets.open_tickets()][:2] == [urgent.id, first.id]
    assert told == [1] and not calm.of("queue_position")  # the calm customer is not moved back
    assert [e.position for e in angry if e.type == "queue_position"] == [2]


async def _crash_inside_escalate(
    service: ConversationService, thread_id: str, text: str, checkpointed: bool
) -> TicketView:
    """The state a process leaves when it dies inside the escalate node: the ticket row is written and
    the checkpoint still says "escalate next" or, as a turn's checkpoint is written at its end, the
    turn left no checkpoint at all (only its message in the transcript)."""
    message = {"id": str(uuid.uuid4()), "role": "customer", "author": "Customer", "content": text, "at": now_iso()}
    config = {"configurable": {"thread_id": thread_id}}
    if checkpointed:
        async for _ in service.graph.astream(
            {"message": message}, config, context=service.context, interrupt_before=["escalate"]
        ):
            pass
    else:
        await service.transcript.record(thread_id, [message])
    brief = write_brief([text], [0.0], "handoff_request", service.settings.skills, [])
    return await service.tickets.open_ticket(thread_id, brief, 0.0, 0.0)


@pytest.mark.parametrize("checkpointed", [True, False], ids=["checkpoint-before-escalate", "no-checkpoint"])
async def test_a_restart_completes_the_runs_a_crash_cut_short_so_their_tickets_can_be_claimed(tmp_path, checkpointed):
    crashed = await ConversationService.open(settings_for(tmp_path))
    opened = await _crash_inside_escalate(crashed, "t-restart", "I want to talk to a human", checkpointed)
    await crashed.close()
    restarted = await ConversationService.open(settings_for(tmp_path))
    try:
        assert (await restarted.state("t-restart"))["mode"] == "waiting"
        assert [t.id for t in await restarted.tickets.open_tickets() if t.thread_id == "t-restart"] == [opened.id]
        assert await restarted.repair_interrupted_escalations() == 0  # nothing left to repair, nothing doubled
    finally:
        await restarted.close()


@pytest.mark.parametrize("checkpointed", [True, False], ids=["checkpoint-before-escalate", "no-checkpoint"])
async def test_a_run_cut_short_after_its_ticket_opened_is_completed_when_an_agent_claims(service, checkpointed):
    dana = await service.tickets.add_agent("Dana", "pw", ["General"])
    thread_id = f"t-crash-{checkpointed}"
    opened = await _crash_inside_escalate(service, thread_id, "I want to talk to a human", checkpointed)
    claimed = await service.claim(opened.id, dana)
    assert claimed.id == opened.id and claimed.status == "assigned"
    assert (await service.state(thread_id))["mode"] == "human"
    assert (await service.state(thread_id))["brief"]["reason"] == "handoff_request"
    assert [t.id for t in await service.tickets.open_tickets() if t.thread_id == thread_id] == [opened.id]
    await service.reply(opened.id, dana, "Hi, Dana here.")
    assert [m["role"] for m in await service.history(thread_id)] == ["customer", "agent"]


async def test_the_wait_is_estimated_from_the_agents_on_duty_for_the_tickets_skills(service):
    await service.tickets.add_agent("Dana", "pw", ["General"])
    await service.tickets.add_agent("Eli", "pw", ["General"])
    await service.tickets.add_agent("Sam", "pw", ["Technical"])
    nobody = [e for e in await say(service, "w-1", "I want a human") if e.type == "queue_position"]
    assert nobody[0].agents_online == 0 and nobody[0].estimated_wait_seconds == 0
    await service.agents_present("portal-a", {"Dana", "Sam"})
    await service.agents_present("portal-b", {"Eli"})
    ticket = await service.tickets.open_for_thread("w-1")
    place = await service.queue_position(ticket)
    assert place.agents_online == 2  # Dana and Eli take General; Sam does not
    assert place.estimated_wait_seconds == int(service.settings.average_handle_minutes * 60 / 2)
    await service.agents_present("portal-b", set())  # Eli closed the portal
    assert (await service.queue_position(ticket)).agents_online == 1


async def test_once_enough_conversations_are_resolved_the_wait_uses_their_median_handle_time(tmp_path):
    from sqlalchemy import update

    from engine.storage import make_sql_engine
    from engine.tickets import TicketRow

    settings = settings_for(tmp_path)
    first = await ConversationService.open(settings)
    try:
        dana = await first.tickets.add_agent("Dana", "pw", ["General", "Account", "Billing", "Technical", "Shipping"])
        for index in range(5):
            ticket = await escalated_ticket(first, f"h-{index}")
            await first.claim(ticket.id, dana)
            await first.resolve(ticket.id, dana)
        resolved = [await first.tickets.latest_for_thread(f"h-{index}") for index in range(5)]
    finally:
        await first.close()
    engine = make_sql_engine(settings)
    async with engine.begin() as connection:  # the five took 10, 10, 10, 20 and 30 minutes
        for ticket, minutes in zip(resolved, [10, 10, 10, 20, 30], strict=True):
            assert ticket is not None and ticket.closed_at is not None
            claimed = ticket.closed_at - timedelta(minutes=minutes)
            await connection.execute(update(TicketRow).where(TicketRow.id == ticket.id).values(claimed_at=claimed))
    await engine.dispose()
    service = await ConversationService.open(settings)  # a process that starts now reads them
    try:
        await service.agents_present("portal-a", {"Dana"})
        waiting = [e for e in await say(service, "h-new", "I want a human") if e.type == "queue_position"]
        assert waiting[0].estimated_wait_seconds == 10 * 60  # first in line, one agent, the median of 10 minutes
    finally:
        await service.close()


def test_business_hours_say_when_the_desk_is_open_and_when_it_opens_next():
    hours = BusinessHours.parse("Mon-Fri 09:00-18:00; Sat 10:00-14:00 Europe/Berlin", [date(2026, 12, 25)])
    berlin = ZoneInfo("Europe/Berlin")
    assert hours.is_open(datetime(2026, 12, 1, 10, 0, tzinfo=berlin))  # a Tuesday morning
    assert not hours.is_open(datetime(2026, 12, 1, 18, 0, tzinfo=berlin))
    assert hours.next_opening(datetime(2026, 12, 5, 15, 0, tzinfo=berlin)) == datetime(2026, 12, 7, 9, 0, tzinfo=berlin)
    assert hours.next_opening(datetime(2026, 12, 24, 19, 0, tzinfo=berlin)) == datetime(
        2026, 12, 26, 10, 0, tzinfo=berlin
    )
    for wrong in (
        "Mon-Fri 9-18 Europe/Berlin",
        "Mon-Fri 09:00-18:00 Mars/Base",
        "Funday 09:00-18:00 UTC",
        "Mon 18:00-09:00 UTC",
    ):
        with pytest.raises(ValueError, match="BUSINESS_HOURS"):
            BusinessHours.parse(wrong)


async def test_outside_business_hours_the_customer_is_told_when_people_are_back(tmp_path):
    today = datetime.now(ZoneInfo("UTC")).date()
    holidays = f"{today},{today + timedelta(days=1)}"  # closed today and tomorrow
    service = await ConversationService.open(
        settings_for(tmp_path, BUSINESS_HOURS="Mon-Sun 00:00-23:59 UTC", HOLIDAYS=holidays)
    )
    try:
        await service.tickets.add_agent("Dana", "pw", ["General"])
        await service.agents_present("portal-process", {"Dana"})
        (place,) = [e for e in await say(service, "h-1", "I want a human") if e.type == "queue_position"]
        assert place.business_hours == "Mon-Sun 00:00-23:59 UTC"
        assert place.opens_at is not None and datetime.fromisoformat(place.opens_at).date() == today + timedelta(days=2)
        assert (await service.tickets.open_for_thread("h-1")).status == "waiting"  # the message is taken all the same
    finally:
        await service.close()


async def test_never_mind_while_waiting_leaves_the_queue_and_the_question_that_came_with_it_is_answered(service):
    ticket = await escalated_ticket(service, "wd-1")
    events = await say(service, "wd-1", "forget about the agent, I just need to know how to reset my password")
    left = [event for event in events if event.type == "status_change"]
    assert left and left[0].mode == "ai" and "left the queue" in left[0].text
    answers = [event for event in events if event.type == "assistant_answer"]
    assert answers and "Resetting Your Password" in answers[-1].sources
    assert (await service.tickets.get(ticket.id)).status == "withdrawn"  # type: ignore[union-attr]
    assert (await service.state("wd-1"))["mode"] == "ai"


async def test_a_thank_you_while_waiting_and_never_mind_once_an_agent_holds_it_both_reach_the_agent(service):
    ticket = await escalated_ticket(service, "wd-2")
    (kept,) = await say(service, "wd-2", "ok thank you, I'll wait here")
    assert kept.type == "customer_message" and (await service.tickets.get(ticket.id)).status == "waiting"  # type: ignore[union-attr]
    dana = await service.tickets.add_agent("Dana", "pw", ["General", "Account", "Billing", "Technical", "Shipping"])
    await service.claim(ticket.id, dana)
    (told,) = await say(service, "wd-2", "never mind, I found it")  # a person is already with them: they hear it
    assert told.type == "customer_message" and (await service.tickets.get(ticket.id)).status == "assigned"  # type: ignore[union-attr]
