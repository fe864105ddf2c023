"""The chat models: ChatOpenAI against any OpenAI-compatible endpoint, or a grounded offline model."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from .assessment import follow_up_text
from .config import Settings
from .knowledge import KnowledgeBase
from .facts import customer_facts, without_identifiers
from .text import content_terms
from .understanding.classifier import without_words

CANNOT_HELP = "I'm not able to help with that"
# Lines of the answer prompt's instructions that tell the model what kind of turn it answers and in
# which language; the offline model reads them back.
TURN_KIND = "The customer's latest message reads as:"
CUSTOMER_LANGUAGE = "The customer writes in the language with ISO 639-1 code:"
FOLLOWS_ARTICLE = "The latest message follows up on the help article:"
_REPLIES: dict[str, dict[str, str]] = json.loads((Path(__file__).parent / "offline_replies.json").read_text(encoding="utf-8"))
# The copilot prompt's first words: the offline model drafts in the agent's voice when it sees them.
DRAFT_FOR_AGENT = "You draft replies for a human support agent"
# Words that only introduce a detail: "my order is NW-1 and my email is a@b.c" asks nothing.
_FACT_LABELS = re.compile(
    r"\b(?:order|account|acct|invoice|email|e-mail|phone|mobile|number|workspace|serial|customer|name|ref)s?\b", re.I
)
AGENT_LABEL = "Support agent"  # how prompts mark an agent's words: "(Support agent Dana) ...", "Support agent Dana: ..."
Chunk = TypeVar("Chunk")


async def stream_until_stopped(chunks: AsyncIterator[Chunk], stop: asyncio.Event) -> AsyncIterator[Chunk]:
    """Yields chunks until the stream ends or `stop` is set; either way the stream is closed at once.

    Waiting on the stop signal beside each chunk (rather than relying on task cancellation to
    travel through every layer in between) is what makes the stop button close the LLM's HTTP
    stream within one token, even before the first one.
    """
    async with aclosing(chunks):  # type: ignore[type-var]
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while True:
                next_chunk = asyncio.ensure_future(anext(chunks))
                await asyncio.wait({next_chunk, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not next_chunk.done():
                    next_chunk.cancel()
                    await asyncio.gather(next_chunk, return_exceptions=True)
                    return
                try:
                    chunk = next_chunk.result()
                except StopAsyncIteration:
                    return
                yield chunk
        finally:
            stopped.cancel()


class OfflineChatModel(BaseChatModel):
    """Answers from the knowledge base alone, so the demo runs with no network and no key.

    It retrieves for the latest human message, quotes the best passage, names its article and
    says plainly when it is unsure. Tokens are paced like a real model so streaming and the
    stop button behave as they would against an API.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    knowledge: KnowledgeBase
    handoff_words: frozenset[str] = frozenset()  # learned by the turn classifier: skipped when searching a draft
    confidence_threshold: float = 0.4
    token_delay_seconds: float = 0.015

    @property
    def _llm_type(self) -> str:
        return "escalation-engine-offline"

    def compose(self, question: str, kind: str = "question", language: str = "en") -> str:
        """The answer to one customer message, given what kind of turn it is and the customer's language."""
        replies = _REPLIES.get(language, _REPLIES["en"])
        if kind in ("closing", "greeting"):
            return replies[kind]
        retrieval = self.knowledge.search(question, language=language)
        if not retrieval.passages or retrieval.confidence < self.confidence_threshold:
            return f"{CANNOT_HELP} from our help articles — a person from our team can."
        best = retrieval.passages[0]
        body = best.text.strip()
        if len(body) > 900:
            body = body[:900].rsplit(" ", 1)[0] + " …"
        lead = (
            "I'm not completely sure this is what you need, but this may help."
            if retrieval.confidence < self.confidence_threshold + 0.15
            else "Here's what I found."
        )
        section = "" if best.heading == best.title else f" — {best.heading}"
        in_english = f"{replies['in_english']}\n\n" if replies["in_english"] else ""
        return f"{in_english}{lead} From **{best.title}**{section}:\n\n{body}\n\nSource: {best.title}"

    def draft_for_agent(self, customer_messages: list[str], agent_has_replied: bool = False) -> str:
        """The agent's next reply to the latest customer message: a greeting by name only when the
        agent has not spoken yet, the best article's section in full when one fits, an
        acknowledgement when the customer only gave details, else a promise to look into it."""
        name = customer_facts(customer_messages).get("name", "")
        opening = "" if agent_has_replied else f"Hi {name.split()[0]}, thanks" if name else "Thanks"
        opening = f"{opening} for your patience. " if opening else ""
        latest = customer_messages[-1] if customer_messages else ""
        question = without_words(latest, self.handoff_words)
        if customer_facts([latest]) and not content_terms(_FACT_LABELS.sub(" ", without_identifiers(question))):
            return f"{opening}Thank you, I've noted that. Give me a moment to look into it."
        retrieval = self.knowledge.search(question)
        if not retrieval.passages or retrieval.confidence < self.confidence_threshold:
            return (
                f"{opening}I've read through your conversation so far, so there's no need to repeat anything. "
                "Let me look into this for you; I'll be back with you here in a moment."
            )
        best = retrieval.passages[0]
        return (
            f"{opening}Here's what to do, from our article “{best.title}”:\n\n{best.text.strip()}\n\n"
            "Does that sort it out? If not, tell me what you see and I'll take it from there."
        )

    def _reply(self, messages: list[BaseMessage]) -> str:
        drafting = any(isinstance(m, SystemMessage) and str(m.content).startswith(DRAFT_FOR_AGENT) for m in messages)
        if drafting:
            agent_has_replied = any(
                f"{AGENT_LABEL} " in str(m.content) for m in messages if isinstance(m, AIMessage | SystemMessage)
            )
            return self.draft_for_agent([str(m.content) for m in messages if isinstance(m, HumanMessage)], agent_has_replied)
        question = next((str(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        instructions = "\n".join(str(m.content) for m in messages if isinstance(m, SystemMessage))
        kind = re.search(rf"^{re.escape(TURN_KIND)} (\w+)", instructions, re.M)
        language = re.search(rf"^{re.escape(CUSTOMER_LANGUAGE)} (\w+)", instructions, re.M)
        follows = re.search(rf"^{re.escape(FOLLOWS_ARTICLE)} (.+)$", instructions, re.M)
        return self.compose(
            follow_up_text(follows.group(1), question) if follows else question,
            kind.group(1) if kind else "question",
            language.group(1) if language else "en",
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply(messages)))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in re.findall(r"\S+\s*|\s+", self._reply(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for piece in re.findall(r"\S+\s*|\s+", self._reply(messages)):
            await asyncio.sleep(self.token_delay_seconds)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                await run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk


def make_chat_model(settings: Settings, knowledge: KnowledgeBase, handoff_words: frozenset[str]) -> BaseChatModel:
    """ChatOpenAI when an endpoint is configured, the offline model otherwise."""
    if settings.uses_llm_endpoint:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=settings.openai_model,
            api_key=settings.openai_api_key or "not-needed",
            base_url=settings.openai_base_url or None,
            timeout=settings.llm_timeout_seconds,
            max_retries=0,
            streaming=True,
            temperature=0.2,
        )
    return OfflineChatModel(
        knowledge=knowledge,
        handoff_words=handoff_words,
        confidence_threshold=settings.confidence_threshold,
        token_delay_seconds=settings.offline_token_delay_seconds,
    )
