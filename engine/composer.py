"""What the offline model says: grounded answers from the knowledge base, greetings that acknowledge
what the customer told us, answers about the conversation itself, and drafts for agents."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .facts import customer_facts, without_identifiers
from .knowledge import KnowledgeBase, Passage
from .text import content_terms
from .understanding.classifier import without_request_for_person
from .understanding.vectors import embed

REPLIES: dict[str, dict[str, str]] = json.loads(
    (Path(__file__).parent / "offline_replies.json").read_text(encoding="utf-8")
)
# A quoted section longer than this is cut at a paragraph; the articles' sections are shorter.
QUOTE_LIMIT = 2400
# Words that only introduce a detail: "my order is NW-1 and my email is a@b.c" asks nothing.
_FACT_LABELS = re.compile(
    r"\b(?:order|account|acct|invoice|email|e-mail|phone|mobile|number|workspace|serial|customer|name|ref)s?\b", re.I
)
# A section that points at the one before it ("the table above") is shown with it.
_POINTS_ABOVE = re.compile(r"\b(?:above|previous section)\b", re.I)
_PERSON_MAY_BE_NEEDED = ("account_action", "frustration", "not_resolved")
_FACT_NAMES = {"order_number": "order number", "account_number": "account number", "invoice_number": "invoice number",
               "workspace_id": "workspace", "serial_number": "serial number", "email": "email", "phone": "phone number",
               "name": "name"}  # fmt: skip


def _fact_word(key: str) -> str:
    """The stem a question uses for a fact ("invoice" for invoice_number)."""
    terms = content_terms(_FACT_NAMES.get(key, key))
    return terms[0] if terms else key


@dataclass(frozen=True)
class Said:
    """One earlier message of the conversation, as the model's prompt carries it."""

    speaker: str  # "Customer", "Assistant" or "Support agent <name>"
    text: str


class Composer:
    def __init__(self, knowledge: KnowledgeBase, handoff_words: frozenset[str], confidence_threshold: float) -> None:
        self.knowledge = knowledge
        self.handoff_words = handoff_words
        self.confidence_threshold = confidence_threshold

    def answer(self, question: str, kind: str, language: str, earlier: list[Said]) -> str | None:
        """The reply to one customer message, or None when the articles do not answer it (a person should)."""
        replies = REPLIES.get(language, REPLIES["en"])
        if kind == "closing":
            return replies["closing"]
        if kind == "greeting":
            return self.greeting(question, replies)
        if kind == "recall":
            return self.recall(question, earlier)
        retrieval = self.knowledge.search(question, language=language)
        if not retrieval.passages or retrieval.confidence < self.confidence_threshold:
            # Someone who just left the queue is not handed back to it for want of an article.
            return replies["withdrawn"] if kind == "withdraw" else None
        best = retrieval.passages[0]
        lead = (
            "I'm not completely sure this is what you need, but this may help."
            if retrieval.confidence < self.confidence_threshold + 0.15
            else "Here's what I found."
        )
        section = f" — {best.section}" if best.section else ""
        in_english = f"{replies['in_english']}\n\n" if replies["in_english"] else ""
        # Answered first although it reads as needing a person (see engine/policy.py): one is offered.
        offer = f"\n\n{replies['offer_person']}" if kind in _PERSON_MAY_BE_NEEDED else ""
        introduction = next((p for p in retrieval.passages[1:2] if p.article == best.article and not p.section), None)
        quoted = self.quote(best, introduction)
        return f"{in_english}{lead} From **{best.title}**{section}:\n\n{quoted}\n\nSource: {best.title}{offer}"

    def quote(self, passage: Passage, introduction: Passage | None = None) -> str:
        """The section whole (steps, tables, values), with the one before it when it points "above",
        after the article's introduction when that ranked right behind it."""
        body = passage.text.strip()
        before = self.knowledge.before(passage) if _POINTS_ABOVE.search(body) else None
        if before is not None:
            body = f"{before.text.strip()}\n\n{body}"
        if introduction is not None and introduction != before:
            body = f"{introduction.text.strip()}\n\n{body}"
        if len(body) > QUOTE_LIMIT:
            body = body[:QUOTE_LIMIT].rsplit("\n\n", 1)[0] + "\n\n…"
        return body

    def greeting(self, text: str, replies: dict[str, str]) -> str:
        """A hello; when the customer introduced themselves, one that says what we noted."""
        facts = customer_facts([text])
        if not facts:
            return replies["greeting"]
        name = facts.pop("name", "")
        opening = f"Hi {name.split()[0]}, thanks" if name else "Thanks"
        items = [f"your {_FACT_NAMES.get(key, key.replace('_', ' '))} {value}" for key, value in facts.items()]
        noted = " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)
        kept = (
            f" I've noted {noted}, so you won't need to give {'it' if len(facts) == 1 else 'them'} again."
            if noted
            else ""
        )
        return f"{opening} for getting in touch.{kept} How can I help you today?"

    def recall(self, question: str, earlier: list[Said]) -> str:
        """What was said earlier that the customer asks about: a detail they gave, or the earlier message
        (theirs, the assistant's or an agent's) closest to the question."""
        facts = customer_facts([said.text for said in earlier if said.speaker == "Customer"])
        asked = set(content_terms(question))
        named = [key for key in facts if _fact_word(key) in asked]
        if named:
            return " ".join(f"You gave us {_FACT_NAMES.get(key, key)} {facts[key]}." for key in named)
        candidates = [said for said in earlier if said.text.strip()]
        if not candidates:
            return "I don't see that earlier in our conversation. Could you tell me again?"
        question_vector = embed([question.lower()])[0]
        vectors = embed([said.text.lower() for said in candidates])

        def closeness(position: int) -> float:
            overlap = len(asked & set(content_terms(candidates[position].text)))
            return overlap + float(vectors[position] @ question_vector)

        closest = candidates[int(np.argmax([closeness(position) for position in range(len(candidates))]))]
        who = "you wrote" if closest.speaker == "Customer" else f"{closest.speaker.replace('Support agent ', '')} wrote"
        if closest.speaker == "Assistant":
            who = "I wrote"
        return f"Earlier {who}:\n\n> " + "\n> ".join(closest.text.strip().splitlines())

    def draft_for_agent(self, customer_messages: list[str], agent_has_replied: bool = False) -> str:
        """The agent's next reply to the latest customer message: a greeting by name only when the
        agent has not spoken yet, the best article's section in full when one fits, an
        acknowledgement when the customer only gave details, else a promise to look into it."""
        name = customer_facts(customer_messages).get("name", "")
        opening = "" if agent_has_replied else f"Hi {name.split()[0]}, thanks" if name else "Thanks"
        opening = f"{opening} for your patience. " if opening else ""
        latest = customer_messages[-1] if customer_messages else ""
        question = without_request_for_person(latest, self.handoff_words)
        if customer_facts([latest]) and not content_terms(_FACT_LABELS.sub(" ", without_identifiers(question))):
            return f"{opening}Thank you, I've noted that. Give me a moment to look into it."
        retrieval = self.knowledge.search(question)
        if not retrieval.passages or retrieval.confidence < self.confidence_threshold:
            return (
                f"{opening}I've read through your conversation so far, so there's no need to repeat anything. "
                "Let me look into this for you; I'll be back with you here in a moment."
            )
        best = retrieval.passages[0]
        section = f" ({best.section})" if best.section else ""
        return (
            f"{opening}From our article “{best.title}”{section}:\n\n{self.quote(best)}\n\n"
            "Does that sort it out? If not, tell me what you see and I'll take it from there."
        )
