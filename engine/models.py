"""The chat models: ChatOpenAI against any OpenAI-compatible endpoint, or a grounded offline model."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing
from typing import Any, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict, SecretStr

from .assessment import follow_up_text
from .composer import Composer, Said
from .config import Settings
from .handoff_tool import TOOL_NAME, handoff_chunk
from .knowledge import KnowledgeBase

# Lines of the answer prompt's instructions that tell the model what kind of turn it answers and in
# which language; the offline model reads them back.
TURN_KIND = "The customer's latest message reads as:"
CUSTOMER_LANGUAGE = "The customer writes in the language with ISO 639-1 code:"
FOLLOWS_ARTICLE = "The latest message follows up on the help article:"
# The copilot prompt's first words: the offline model drafts in the agent's voice when it sees them.
DRAFT_FOR_AGENT = "You draft replies for a human support agent"
AGENT_LABEL = (
    "Support agent"  # how prompts mark an agent's words: "(Support agent Dana) ...", "Support agent Dana: ..."
)
EARLIER = "Earlier in this conversation:"  # the prompt block that carries the older messages as lines
NO_ANSWER = "I couldn't find an answer to that in our help articles."  # said when no handoff tool is bound
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

    It retrieves for the latest human message, quotes the section that answers it, names its article
    and says plainly when it is unsure; when nothing answers, it calls the bound handoff tool, as an
    LLM would. Tokens are paced like a real model so streaming and the stop button behave as they
    would against an API.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    composer: Composer
    token_delay_seconds: float = 0.015

    @property
    def _llm_type(self) -> str:
        return "escalation-engine-offline"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=list(tools), **kwargs)

    def _reply(self, messages: list[BaseMessage], tools: list[Any] | None) -> AIMessageChunk:
        drafting = any(isinstance(m, SystemMessage) and str(m.content).startswith(DRAFT_FOR_AGENT) for m in messages)
        if drafting:
            agent_has_replied = any(
                f"{AGENT_LABEL} " in str(m.content) for m in messages if isinstance(m, AIMessage | SystemMessage)
            )
            customer = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
            return AIMessageChunk(content=self.composer.draft_for_agent(customer, agent_has_replied))
        question = next((str(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        instructions = "\n".join(str(m.content) for m in messages if isinstance(m, SystemMessage))
        kind = re.search(rf"^{re.escape(TURN_KIND)} (\w+)", instructions, re.M)
        language = re.search(rf"^{re.escape(CUSTOMER_LANGUAGE)} (\w+)", instructions, re.M)
        follows = re.search(rf"^{re.escape(FOLLOWS_ARTICLE)} (.+)$", instructions, re.M)
        answer = self.composer.answer(
            follow_up_text(follows.group(1), question) if follows else question,
            kind.group(1) if kind else "question",
            language.group(1) if language else "en",
            _earlier(messages),
        )
        if answer is not None:
            return AIMessageChunk(content=answer)
        if any(_tool_name(tool) == TOOL_NAME for tool in tools or []):
            return handoff_chunk("assistant_cannot_help", f"Asked: {question}")
        return AIMessageChunk(content=NO_ANSWER)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self._reply(messages, kwargs.get("tools"))
        message = AIMessage(content=reply.content, tool_calls=reply.tool_calls)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in _pieces(self._reply(messages, kwargs.get("tools"))):
            yield ChatGenerationChunk(message=chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for piece in _pieces(self._reply(messages, kwargs.get("tools"))):
            await asyncio.sleep(self.token_delay_seconds)
            chunk = ChatGenerationChunk(message=piece)
            if run_manager:
                await run_manager.on_llm_new_token(str(piece.content), chunk=chunk)
            yield chunk


def _pieces(reply: AIMessageChunk) -> list[AIMessageChunk]:
    """A reply as a model streams it: word by word, or the tool call in one chunk."""
    if reply.tool_call_chunks:
        return [reply]
    return [AIMessageChunk(content=piece) for piece in re.findall(r"\S+\s*|\s+", str(reply.content))]


def _tool_name(tool: Any) -> str | None:
    return tool.get("function", {}).get("name") if isinstance(tool, dict) else getattr(tool, "name", None)


def _earlier(messages: list[BaseMessage]) -> list[Said]:
    """The conversation before the latest message, as the prompt carries it (older ones as lines of text)."""
    said: list[Said] = []
    for message in messages[:-1]:
        text = str(message.content)
        if isinstance(message, SystemMessage):
            if text.startswith(EARLIER):
                for line in text.removeprefix(EARLIER).strip().splitlines():
                    speaker, _, words = line.partition(": ")
                    said.append(Said(speaker, words))
        elif isinstance(message, HumanMessage):
            said.append(Said("Customer", text))
        elif (agent := re.match(rf"\(({re.escape(AGENT_LABEL)} [^)]+)\) ", text)) is not None:
            said.append(Said(agent.group(1), text[agent.end() :]))
        else:
            said.append(Said("Assistant", text))
    return said


def make_chat_model(settings: Settings, knowledge: KnowledgeBase, handoff_words: frozenset[str]) -> BaseChatModel:
    """ChatOpenAI when an endpoint is configured, the offline model otherwise."""
    if settings.uses_llm_endpoint:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=settings.openai_model,
            api_key=SecretStr(settings.openai_api_key or "not-needed"),
            base_url=settings.openai_base_url or None,
            timeout=settings.llm_timeout_seconds,
            max_retries=0,
            streaming=True,
            temperature=0.2,
        )
    return OfflineChatModel(
        composer=Composer(knowledge, handoff_words, settings.confidence_threshold),
        token_delay_seconds=settings.offline_token_delay_seconds,
    )
