"""The real ChatOpenAI path against a local OpenAI-compatible server streaming SSE."""

from __future__ import annotations

import asyncio

from engine.events import PORTAL_TOPIC
from tests.helpers import Recorder, kinds, say


async def test_answers_stream_token_by_token_from_the_endpoint(llm_service, fake_llm):
    fake_llm.reset(reply="Go to the login page and click Forgot password to reset it.")
    events = await say(llm_service, "t-llm", "How do I reset my password?")
    tokens = [event.token for event in events if event.type == "token_stream"]
    assert len(tokens) == len(fake_llm.reply.split(" "))
    assert events[-1].type == "assistant_answer" and events[-1].content == fake_llm.reply
    sent = fake_llm.requests[0]
    assert sent["stream"] is True
    assert "Resetting Your Password" in sent["messages"][0]["content"]  # the KB passage was in the prompt


async def test_an_endpoint_error_hands_the_customer_to_a_person(llm_service, fake_llm):
    fake_llm.reset(mode="error")
    events = await say(llm_service, "t-500", "How do I reset my password?")
    assert kinds(events) == ["status_change", "queue_position"]
    assert "unavailable" in events[0].text
    ticket = await llm_service.tickets.open_for_thread("t-500")
    assert ticket.reason == "assistant_unavailable"


async def test_an_endpoint_that_never_answers_times_out_into_a_handoff(llm_service, fake_llm):
    fake_llm.reset(mode="hang")
    events = await say(llm_service, "t-hang", "How do I reset my password?")
    assert kinds(events) == ["status_change", "queue_position"]
    assert (await llm_service.tickets.open_for_thread("t-hang")).reason == "assistant_unavailable"


async def test_the_answer_call_offers_the_handoff_tool(llm_service, fake_llm):
    fake_llm.reset(reply="Click Forgot password on the sign-in page.")
    await say(llm_service, "t-tools", "How do I reset my password?")
    (tool,) = fake_llm.requests[0]["tools"]
    assert tool["function"]["name"] == "handoff_to_human"
    assert set(tool["function"]["parameters"]["properties"]["skills"]["items"]["enum"]) == set(
        llm_service.settings.skills
    )


async def test_a_streamed_handoff_tool_call_escalates_with_the_models_reason_and_summary(llm_service, fake_llm):
    summary = "Customer was charged twice for the Team plan on INV-20931 and wants one charge refunded."
    fake_llm.reset(
        reply="",
        tool_call={
            "name": "handoff_to_human",
            "arguments": {"reason": "account_action", "summary": summary, "skills": ["Billing", "Cooking"]},
        },
    )
    events = await say(llm_service, "t-tool-call", "How do I reset my password?")
    # No half sentence: the customer sees the handoff begin, and no empty answer.
    assert kinds(events) == ["status_change", "queue_position"]
    ticket = await llm_service.tickets.open_for_thread("t-tool-call")
    assert ticket.reason == "account_action" and ticket.skills == ["Billing"]  # an unknown skill is dropped
    assert f"Assistant's summary: {summary}" in ticket.summary
    assert [m["role"] for m in await llm_service.history("t-tool-call")] == ["customer"]
    assert (await llm_service.state("t-tool-call"))["brief"]["model_summary"] == summary


async def test_the_llm_summary_is_added_to_the_brief_once_it_is_ready(llm_service, fake_llm):
    fake_llm.reset(reply="The customer cannot reset their password and wants a person.")
    portal = Recorder()
    llm_service.bus.subscribe(PORTAL_TOPIC, portal)
    await say(llm_service, "t-refined", "my password reset keeps failing, I want a human")
    ticket = await llm_service.tickets.open_for_thread("t-refined")
    (update,) = await portal.wait_for("ticket_updated")
    refined = update.ticket
    assert refined.summary.startswith(ticket.summary)  # the deterministic brief stays, the LLM's follows
    assert refined.summary.endswith("Assistant's summary: The customer cannot reset their password and wants a person.")


async def test_words_before_a_tool_call_are_kept_and_the_handoff_follows(llm_service, fake_llm):
    fake_llm.reset(
        reply="I'll pass this to a colleague who can see your invoices.",
        tool_call={"name": "handoff_to_human", "arguments": {"reason": "made_up", "summary": "needs invoice help"}},
    )
    events = await say(llm_service, "t-tool-words", "How do I reset my password?")
    assert kinds(events)[-3:] == ["assistant_answer", "status_change", "queue_position"]
    assert events[-3].content == fake_llm.reply
    # A reason outside the tool's list reads as "the assistant cannot help".
    assert (await llm_service.tickets.open_for_thread("t-tool-words")).reason == "assistant_cannot_help"


async def test_stop_closes_the_upstream_stream_and_keeps_the_partial_answer(llm_service, fake_llm):
    fake_llm.reset(reply=" ".join(f"word{i}" for i in range(200)), token_delay=0.02)
    received: list[str] = []
    three_tokens = asyncio.Event()

    async def customer_turn() -> None:
        async for event in llm_service.customer_message("t-stop", "How do I reset my password?"):
            if event.type == "token_stream":
                received.append(event.token)
                if len(received) == 3:
                    three_tokens.set()

    turn = asyncio.create_task(customer_turn())
    await asyncio.wait_for(three_tokens.wait(), 10)
    turn.cancel()
    await asyncio.gather(turn, return_exceptions=True)
    await asyncio.wait_for(fake_llm.stream_closed.wait(), 5)
    assert fake_llm.disconnected_at is not None
    assert fake_llm.tokens_after_disconnect <= 1
    assert fake_llm.tokens_sent < 50

    (_question, partial) = await llm_service.history("t-stop")
    assert partial["stopped"] is True and partial["content"].startswith("word0")

    fake_llm.reset(reply="Sure: click Forgot password.")
    events = await say(llm_service, "t-stop", "and how do I turn on two-factor authentication?")
    assert events[-1].type == "assistant_answer" and events[-1].content == "Sure: click Forgot password."


async def test_after_a_hand_back_the_model_reads_the_whole_conversation_the_agents_part_included(llm_service, fake_llm):
    dana = await llm_service.tickets.add_agent("Dana", "pw", ["General", "Shipping"])
    fake_llm.reset(reply="Orders ship from our warehouse; see Order Tracking.")
    for question in ("Where is my order NW-55555?", "How long does shipping take?", "Can I change the address?"):
        await say(llm_service, "t-back", question)
    await say(llm_service, "t-back", "I want to talk to a person")
    ticket = await llm_service.tickets.open_for_thread("t-back")
    await llm_service.claim(ticket.id, dana)
    await llm_service.reply(ticket.id, dana, "I rerouted NW-55555 to your office; it arrives Friday.")
    await llm_service.hand_back(ticket.id, dana)

    fake_llm.reset(reply="You're welcome!")
    await say(llm_service, "t-back", "thanks, and will I get a tracking email?")
    prompt = " ".join(message["content"] for message in fake_llm.requests[-1]["messages"])
    assert "Where is my order NW-55555?" in prompt  # from before the handoff
    assert "(Support agent Dana) I rerouted NW-55555 to your office" in prompt  # the agent's part
    assert fake_llm.requests[-1]["messages"][-1] == {
        "role": "user",
        "content": "thanks, and will I get a tracking email?",
    }
    assert len(fake_llm.requests[-1]["messages"]) <= 8  # older turns travel as one block of text
