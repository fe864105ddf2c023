"""The escalation state machine: analyze each customer turn, then answer it or hand it to a person.

START → analyze ─┬─▶ answer ───────────────▶ END
                 │      └─(LLM down / handoff tool called)─┐
                 └─▶ escalate ◀────────────────────┘
                        └─▶ human ⟲ (interrupt / Command(resume=action)) ─▶ END on resolve or hand back
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from .assessment import analyze_latest_turn, follow_up_text, problem_statement
from .brief import write_brief
from .config import Settings
from .events import Mode
from .handoff_tool import handoff_call
from .knowledge import KnowledgeBase
from .llm_errors import LLM_ERRORS
from .metrics import LLM_FAILURES
from .models import stream_until_stopped
from .policy import NOT_FROM_ARTICLES, WITHDRAW
from .prompts import answer_prompt
from .tickets import TicketStore
from .transcript import TranscriptStore
from .understanding import Understanding


class ChatMessage(TypedDict):
    id: str
    role: Literal["customer", "assistant", "agent"]
    author: str
    content: str
    at: str
    sources: NotRequired[list[str]]
    section: NotRequired[str]  # the section of sources[0] an assistant answer quoted from ("" for its introduction)
    stopped: NotRequired[bool]
    avatar_url: NotRequired[str]


# The state holds what routing needs, not the conversation: every message is in the transcript
# (engine/transcript.py), where the analyze node reads the recent ones. So a checkpoint is small, and
# the same size at turn 100 as at turn 10 (docs/design-decisions.md).
MESSAGE_WINDOW = 20
SENTIMENT_WINDOW = 20


def recent_sentiments(existing: list[float], new: list[float]) -> list[float]:
    """The first turn's sentiment (where the trend starts) and the most recent ones."""
    combined = existing + new
    return combined if len(combined) <= SENTIMENT_WINDOW else combined[:1] + combined[-(SENTIMENT_WINDOW - 1) :]


class TurnJudgement(TypedDict):
    """What the analyze node judged of the latest customer turn, as the later nodes and turns need it.
    One channel, not one per field: a checkpoint carries a version for every channel."""

    intent: str  # the turn classifier's label for the message
    language: str  # ISO 639-1 code of the customer's language, as of this message
    frustration: float  # carried on to the next turn's reading
    follows_article: str | None  # the article a follow-up turn was searched with (see engine/assessment.py)


NOT_JUDGED = TurnJudgement(intent="question", language="en", frustration=0.0, follows_article=None)


class ConversationState(TypedDict, total=False):
    message: ChatMessage  # the customer's message this run takes (the run's input)
    # The recent messages analyze read, for the node after it. That node clears it: a run writes its
    # checkpoint at its end (engine/service.py), so a stored checkpoint keeps it only for a run that failed.
    window: list[ChatMessage] | None
    turn: TurnJudgement
    sentiments: Annotated[list[float], recent_sentiments]  # one per customer turn, the trend's raw data
    mode: Mode
    escalation_reason: str | None
    model_handoff: dict[str, Any] | None  # the answer model's handoff_to_human call: its summary and skills
    brief: dict[str, Any] | None
    ticket_id: str | None
    assigned_agent: str | None
    last_action: dict[str, Any] | None  # the latest human-mode action, for the service to announce
    left_queue: bool  # the latest customer message took them out of the queue for a person (input only)


@dataclass
class EngineContext:
    settings: Settings
    knowledge: KnowledgeBase
    understanding: Understanding
    model: BaseChatModel
    answer_model: Runnable[LanguageModelInput, BaseMessage]  # the model with the handoff tool bound
    tickets: TicketStore
    transcript: TranscriptStore
    stop_requests: dict[str, asyncio.Event] = field(default_factory=dict)  # thread id -> the stop button

    def stop_signal(self, thread_id: str) -> asyncio.Event:
        return self.stop_requests.setdefault(thread_id, asyncio.Event())


def answer_id(question_id: str) -> str:
    """The id of the answer to a customer message: a UUID, as chat front ends store ids, and stable."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"answer:{question_id}"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


async def analyze(state: ConversationState, config: RunnableConfig, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    context = runtime.context
    messages = await context.transcript.record_turn(
        config["configurable"]["thread_id"], state["message"], MESSAGE_WINDOW
    )
    earlier = state.get("turn")
    # Classifying and searching is CPU work (milliseconds, more for long messages): off the event loop.
    turn = await asyncio.to_thread(
        analyze_latest_turn,
        messages,
        previous_frustration=earlier["frustration"] if earlier else None,
        previous_language=earlier["language"] if earlier else None,
        understanding=context.understanding,
        knowledge=context.knowledge,
        settings=context.settings,
        left_queue=state.get("left_queue", False),
    )
    return {
        "window": messages,
        "left_queue": False,
        "sentiments": [turn.sentiment],
        "turn": TurnJudgement(
            intent=turn.assessment.intent,
            language=turn.language,
            frustration=turn.assessment.frustration,
            follows_article=turn.follows_article,
        ),
        "mode": "ai",
        "escalation_reason": turn.reason,
        "model_handoff": None,
    }


def route(state: ConversationState) -> Literal["answer", "escalate"]:
    return "escalate" if state.get("escalation_reason") else "answer"


async def answer(
    state: ConversationState, config: RunnableConfig, runtime: Runtime[EngineContext]
) -> Command[Literal["escalate", "__end__"]]:
    context, thread_id = runtime.context, config["configurable"]["thread_id"]
    question, judged = state["message"], state["turn"]
    follows, intent, language = judged["follows_article"], judged["intent"], judged["language"]
    search_text = follow_up_text(follows, question["content"]) if follows else question["content"]
    retrieval = context.knowledge.search(search_text, language=language)
    stop = context.stop_signal(thread_id)
    try:
        prompt = answer_prompt(state.get("window") or [question], retrieval, intent, language, follows)
        stream = context.answer_model.astream(prompt, config)
        chunks = [chunk async for chunk in stream_until_stopped(stream, stop)]
    except LLM_ERRORS:
        LLM_FAILURES.labels(job="answer").inc()
        return Command(goto="escalate", update={"escalation_reason": "assistant_unavailable", "window": None})
    said = sum(chunks[1:], chunks[0]) if chunks else AIMessageChunk(content="")
    content = str(said.content).strip()
    # A model that hands a withdrawn customer straight back to the queue is not followed (see the answer rules).
    withdrawn = intent == WITHDRAW
    handoff = None if stop.is_set() or withdrawn else handoff_call(said, context.settings.skills)
    update: dict[str, Any] = {"window": None}
    if handoff:
        update |= {
            "escalation_reason": handoff.reason,
            "model_handoff": {"summary": handoff.summary, "skills": handoff.skills},
        }
    if content or not handoff:  # a model that hands off without a word leaves nothing to show or keep
        reply: ChatMessage = {
            "id": answer_id(question["id"]),
            "role": "assistant",
            "author": "Assistant",
            "content": content,
            "at": now_iso(),
        }
        if intent not in NOT_FROM_ARTICLES and retrieval.passages:
            reply["sources"], reply["section"] = retrieval.articles[:1], retrieval.passages[0].section
        if stop.is_set():  # the customer stopped it: keep what was said, marked as stopped
            reply["stopped"] = True
        await context.transcript.record(thread_id, [reply])
        runtime.stream_writer(reply)  # to the service, which shows it; the transcript keeps it
    goto: Literal["escalate", "__end__"] = "escalate" if handoff else "__end__"
    return Command(goto=goto, update=update)


async def escalate(state: ConversationState, config: RunnableConfig, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    context, judged = runtime.context, state.get("turn", NOT_JUDGED)  # a checkpoint from before `turn` has none
    thread_id = config["configurable"]["thread_id"]
    messages = await context.transcript.read(thread_id)
    said = [m["content"] for m in messages if m["role"] == "customer"]
    model_handoff = state.get("model_handoff") or {}
    brief = write_brief(
        customer_messages=said,
        sentiments=state.get("sentiments", []),
        reason=state["escalation_reason"] or "handoff_request",
        skills=context.settings.skills,
        articles=list(dict.fromkeys(s for m in messages for s in m.get("sources", []))),
        language=judged["language"],
        problem=await asyncio.to_thread(problem_statement, said, context.understanding),
        answered=answered_sections(messages),
        frustrated=judged["frustration"] >= context.settings.frustration_threshold,
        model_summary=model_handoff.get("summary"),
        model_skills=model_handoff.get("skills"),
    )
    ticket = await context.tickets.open_ticket(thread_id, brief, state["sentiments"][-1], judged["frustration"])
    return {
        "window": None,
        "mode": "waiting",
        "brief": brief.model_dump(),
        "ticket_id": ticket.id,
        "assigned_agent": None,
        "last_action": None,
    }


def answered_sections(messages: list[dict[str, Any]]) -> list[str]:
    """What the assistant answered from, as "article — section", in order, each once."""
    answered = [
        f"{m['sources'][0]} — {m['section']}" if m.get("section") else m["sources"][0]
        for m in messages
        if m["role"] == "assistant" and m.get("sources") and not m.get("stopped")
    ]
    return list(dict.fromkeys(answered))


def apply_action(state: ConversationState, action: dict[str, Any]) -> dict[str, Any]:
    """What one resume action (built by engine/service.py) does to the conversation."""
    kind = action["kind"]
    update: dict[str, Any] = {"last_action": action}
    if kind == "customer_message":
        update["sentiments"] = [action["sentiment"]]
    elif kind == "agent_joined":
        update.update(mode="human", assigned_agent=action["agent"])
    elif kind == "transfer":
        update.update(mode="human" if action.get("to_agent") else "waiting", assigned_agent=action.get("to_agent"))
    elif kind == "resolve":
        update.update(mode="resolved")
    elif kind in ("hand_back", "withdraw"):
        update.update(mode="ai", assigned_agent=None, escalation_reason=None)
    return update


async def human(state: ConversationState, config: RunnableConfig, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    action = interrupt({"ticket_id": state.get("ticket_id"), "mode": state.get("mode")})
    if "message" in action:
        await runtime.context.transcript.record(config["configurable"]["thread_id"], [action["message"]])
    return apply_action(state, action)


def after_human(state: ConversationState) -> Literal["human", "__end__"]:
    return "__end__" if state.get("mode") in ("resolved", "ai") else "human"  # "__end__" is END, typed as str


def build_graph() -> StateGraph[ConversationState, EngineContext, ConversationState, ConversationState]:
    builder = StateGraph(ConversationState, context_schema=EngineContext)
    # langgraph passes config and runtime by parameter name; its StateNode protocols have no signature
    # that takes both, so mypy finds no overload for these nodes.
    builder.add_node("analyze", analyze)  # type: ignore[call-overload]
    builder.add_node("answer", answer)  # type: ignore[call-overload]
    builder.add_node("escalate", escalate)  # type: ignore[call-overload]
    builder.add_node("human", human)  # type: ignore[call-overload]
    builder.add_edge(START, "analyze")
    builder.add_conditional_edges("analyze", route)
    builder.add_edge("escalate", "human")
    builder.add_conditional_edges("human", after_human)
    return builder
