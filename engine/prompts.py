"""What the models are told: the answer prompt, the agent copilot prompt and the brief summary prompt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from .handoff_tool import TOOL_NAME
from .knowledge import Retrieval
from .models import AGENT_LABEL, CUSTOMER_LANGUAGE, DRAFT_FOR_AGENT, EARLIER, FOLLOWS_ARTICLE, TURN_KIND

HISTORY_LIMIT = 20
RECENT_MESSAGES = 6  # sent as chat messages; older ones in the window go as one block of text

_ANSWER_RULES = f"""You are the support assistant of the company whose help articles follow.
Answer the customer's latest message using only these articles and the conversation; name the
article you used and give its steps, values and links in full. If the articles do not answer it, or
the customer asks for a person, is upset, or needs someone to act on their account, call the
{TOOL_NAME} tool instead of answering: a person will take over.
When the turn kind is withdraw, the customer has just left the queue for a person: never call the tool;
answer a question they added from the articles, or acknowledge in one short sentence.
Earlier messages may include replies from human support agents; treat them as part of the conversation."""

_COPILOT_RULES = f"""{DRAFT_FOR_AGENT}, who will review them before sending.
Write the agent's next reply to the customer: warm, specific, grounded in the help articles, and
never asking for anything the customer already gave (name, email, account or order numbers)."""

_SUMMARY_RULES = """Summarise this support conversation for the human agent taking it over, in at most
three sentences: what the customer needs, what was already tried, and any identifiers they gave."""


def _articles(retrieval: Retrieval) -> str:
    if not retrieval.passages:
        return "(no matching help articles)"
    return "\n\n".join(f"[{p.title} — {p.heading}]\n{p.text}" for p in retrieval.passages)


def _said_by(message: Mapping[str, Any]) -> str:
    if message["role"] == "customer":
        return "Customer"
    return f"{AGENT_LABEL} {message['author']}" if message["role"] == "agent" else "Assistant"


def _history(messages: Sequence[Mapping[str, Any]]) -> list[BaseMessage]:
    """The conversation window: the latest messages as chat turns, the ones before as one text.

    The same words either way; fewer message objects make each LLM request cheaper to build (the
    OpenAI SDK walks every message of every request, a measurable share of a turn's CPU)."""
    window = messages[-HISTORY_LIMIT:]
    earlier, recent = window[:-RECENT_MESSAGES], window[-RECENT_MESSAGES:]
    converted: list[BaseMessage] = []
    if earlier:
        lines = "\n".join(f"{_said_by(message)}: {message['content']}" for message in earlier)
        converted.append(SystemMessage(content=f"{EARLIER}\n{lines}"))
    for message in recent:
        if message["role"] == "customer":
            converted.append(HumanMessage(content=message["content"]))
        elif message["role"] == "agent":
            converted.append(AIMessage(content=f"({AGENT_LABEL} {message['author']}) {message['content']}"))
        else:
            converted.append(AIMessage(content=message["content"]))
    return converted


def answer_prompt(
    messages: Sequence[Mapping[str, Any]],
    retrieval: Retrieval,
    kind: str = "question",
    language: str = "en",
    follows_article: str | None = None,
) -> list[BaseMessage]:
    """The answer call: rules, what kind of turn this is (a thank-you needs no article), the customer's
    language (answer in it), the article a follow-up follows, the articles, and the conversation. The
    instructions hold no customer text: only labels and our own article titles."""
    turn = f"{TURN_KIND} {kind}\n{CUSTOMER_LANGUAGE} {language}\nReply in the customer's language."
    if follows_article:
        turn += f"\n{FOLLOWS_ARTICLE} {follows_article}"
    return [
        SystemMessage(content=f"{_ANSWER_RULES}\n{turn}\n\nHelp articles:\n{_articles(retrieval)}"),
        *_history(messages),
    ]


def copilot_prompt(messages: Sequence[Mapping[str, Any]], retrieval: Retrieval) -> list[BaseMessage]:
    return [SystemMessage(content=f"{_COPILOT_RULES}\n\nHelp articles:\n{_articles(retrieval)}"), *_history(messages)]


def summary_prompt(messages: Sequence[Mapping[str, Any]]) -> list[BaseMessage]:
    transcript = "\n".join(f"{m['author']}: {m['content']}" for m in messages[-HISTORY_LIMIT:])
    return [SystemMessage(content=_SUMMARY_RULES), HumanMessage(content=transcript)]
