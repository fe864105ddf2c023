"""Pure logic: signals on one turn, the router's policy on labeled conversations, the brief."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.assess import assess_conversation, label_report
from engine.brief import skill_tags, write_brief
from engine.config import Settings
from engine.facts import customer_facts
from engine.knowledge import KnowledgeBase
from engine.policy import TurnAssessment, escalation_reason
from engine.signals import repeats_answered_question, sentiment_trend
from engine.understanding import load_understanding
from engine.understanding.classifier import without_request_for_person

DATA = Path(__file__).parent / "data"
SETTINGS = Settings()


def test_sentiment_trend_compares_the_latest_turn_with_the_earlier_ones():
    assert sentiment_trend([0.4, 0.2, -0.6]) < -0.5
    assert sentiment_trend([0.1]) == 0.0


KNOWLEDGE = KnowledgeBase(SETTINGS.kb_dir, SETTINGS.model_cache_path)


@pytest.mark.parametrize(
    ("earlier", "again"),
    [
        ("How do I reset my password?", "how do i reset my password??"),
        ("how do I get more storage space?", "how can I get more storage space for my workspace?"),
        ("where is my order?", "WHERE IS MY ORDER"),
        ("refund?", "refund please"),
        ("my card was declined", "my card keeps getting declined"),
    ],
)
def test_asking_again_what_was_answered_is_a_loop(earlier, again):
    assert repeats_answered_question(again, [earlier], SETTINGS.repeat_similarity, KNOWLEDGE.best_passage)


@pytest.mark.parametrize(
    ("earlier", "follow_up"),
    [
        ("How do I reset my password?", "how do I turn on two-factor authentication?"),
        ("how do I cancel", "if I cancel do I get a refund"),
        ("How do I track my Hub order?", "How do I cancel my Hub order?"),
        ("where is order NWH-100001?", "where is order NWH-100002?"),
        ("How do I reset my password?", "how long is the reset link valid?"),
        ("How do I turn on two-factor authentication?", "what if I lose my phone?"),
        ("How do I create an API key?", "what scopes can an API key have?"),
    ],
)
def test_a_follow_up_is_not_a_loop(earlier, follow_up):
    assert not repeats_answered_question(follow_up, [earlier], SETTINGS.repeat_similarity, KNOWLEDGE.best_passage)


def _turn(**changes):
    values = dict(
        intent="question",
        frustration=0.0,
        account_action=0.0,
        handoff=0.0,
        previous_frustration=0.0,
        after_answer=False,
        retrieval_confidence=0.9,
        repeated_question=False,
    )
    values.update(changes)
    return TurnAssessment(**values)


@pytest.mark.parametrize(
    ("turn", "reason"),
    [
        (_turn(), None),
        (_turn(intent="handoff_request"), "handoff_request"),
        (_turn(intent="question", handoff=0.4), "handoff_request"),  # "a person please: how long does a refund take?"
        (_turn(intent="question", handoff=0.2), None),
        (_turn(frustration=0.9), "frustration"),
        (_turn(frustration=0.9, retrieval_confidence=0.99), "frustration"),
        (_turn(frustration=0.3, previous_frustration=0.0, intent="closing"), None),
        (_turn(frustration=0.3, previous_frustration=None), None),  # a first message has nothing to rise from
        (_turn(repeated_question=True), "repeated_question"),
        (_turn(intent="not_resolved", after_answer=True), "repeated_question"),
        (_turn(intent="not_resolved", after_answer=False), None),  # "still nothing" means nothing on its own
        # "no wait, I meant the Hub" after the customer stopped the answer redirects it; it is not a failed answer.
        (_turn(intent="not_resolved", after_answer=True, answer_stopped=True), None),
        (_turn(intent="account_action", account_action=0.9), "account_action"),
        # A turn that may need a person, which the articles answer confidently, is answered first.
        (_turn(intent="account_action", account_action=0.5), None),
        (_turn(intent="account_action", account_action=0.5, retrieval_confidence=0.5), "account_action"),
        # "can you ship my hub to a PO box?" has an answer; "order NW-5531 is stuck, can you chase it?" wants a look.
        (_turn(intent="account_action", account_action=0.8), None),
        (_turn(intent="account_action", account_action=0.8, names_account_item=True), "account_action"),
        (_turn(frustration=0.5), None),
        (_turn(frustration=0.5, retrieval_confidence=0.5), "frustration"),
        (_turn(frustration=0.5, after_answer=True), "frustration"),  # the answer before did not calm them
        (_turn(intent="recall", retrieval_confidence=0.0), None),  # answered from the conversation
        (_turn(retrieval_confidence=0.1), "low_confidence"),
        (_turn(retrieval_confidence=0.1, intent="closing"), None),
        (_turn(retrieval_confidence=0.1, intent="greeting"), None),
        (_turn(intent="handoff_request", frustration=0.9, retrieval_confidence=0.0), "handoff_request"),
    ],
)
def test_the_router_policy_table(turn, reason):
    assert escalation_reason(turn, SETTINGS) == reason


def test_thresholds_are_configuration():
    strict = Settings(CONFIDENCE_THRESHOLD=0.95)
    assert escalation_reason(_turn(retrieval_confidence=0.9), strict) == "low_confidence"
    assert (
        escalation_reason(_turn(frustration=0.2, retrieval_confidence=0.5), Settings(FRUSTRATION_THRESHOLD=0.15))
        == "frustration"
    )
    assert escalation_reason(_turn(frustration=0.5), Settings(ANSWER_FIRST_CONFIDENCE=0.95)) == "frustration"
    rising = _turn(frustration=0.3, previous_frustration=0.0, retrieval_confidence=0.5)
    assert escalation_reason(rising, Settings(FRUSTRATION_JUMP=0.25)) == "frustration"
    assert escalation_reason(rising, Settings(FRUSTRATION_JUMP=0.5)) is None
    eager = Settings(ACCOUNT_ACTION_ALWAYS_ESCALATES=0.5)  # naming an order never makes a person less likely
    named = _turn(intent="account_action", account_action=0.6, names_account_item=True)
    assert escalation_reason(named, eager) == "account_action"
    assert escalation_reason(_turn(intent="account_action", account_action=0.6), eager) == "account_action"


def test_the_router_on_labeled_conversations():
    understanding = load_understanding(SETTINGS.model_cache_path)
    cases = [json.loads(line) for line in (DATA / "router_labeled.jsonl").read_text().splitlines()]
    decisions = [(case, assess_conversation(case["messages"], SETTINGS, KNOWLEDGE, understanding)) for case in cases]
    exact = sum(decision["reason"] == case["reason"] for case, decision in decisions)
    escalate_right = sum(decision["escalate"] == case["escalate"] for case, decision in decisions)
    wrongly_escalated = [
        case["messages"][-1]["content"] for case, decision in decisions if decision["escalate"] and not case["escalate"]
    ]
    assert exact / len(cases) >= 0.9, f"{exact}/{len(cases)} reasons right"
    assert escalate_right / len(cases) >= 0.9
    # Every explicit request for a person must reach one.
    for case, decision in decisions:
        if case["reason"] == "handoff_request":
            assert decision["reason"] == "handoff_request", case["messages"][-1]["content"]
    assert len(wrongly_escalated) <= 2, wrongly_escalated


def test_customer_facts_are_extracted_from_what_they_wrote():
    facts = customer_facts(
        [
            "Hi, my name is Dana Smith and my order #NW-48213 never arrived",
            "You can reach me at dana.smith@example.com or +1 415 555 0134, account number ACC-99812",
        ]
    )
    assert facts == {
        "name": "Dana Smith",
        "order_number": "NW-48213",
        "email": "dana.smith@example.com",
        "phone": "+1 415 555 0134",
        "account_number": "ACC-99812",
    }
    assert "name" not in customer_facts(["I'm Still waiting for my refund"])


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Hi, I'm Sean O'Brien", {"name": "Sean O'Brien"}),
        ("hello, Tom Becker here", {"name": "Tom Becker"}),
        (
            "my name is jean-luc picard and my email is JL@Example.IO",
            {"name": "Jean-Luc Picard", "email": "JL@Example.IO"},
        ),
        ("I'm Canadian and I'm Locked out", {}),
        ("call me at (555) 123-4567", {"phone": "(555) 123-4567"}),
        ("I was charged on 2024-03-05", {}),
        ("my order is NWH-482910, and order #A-10293 too", {"order_number": "NWH-482910, A-10293"}),
        (
            "invoice number INV-2024-001 for workspace id ws-4411",
            {"invoice_number": "INV-2024-001", "workspace_id": "ws-4411"},
        ),
        (
            "Our office IP is 192.168.0.1, build 20250114, zip 94107-1234, account no. 7781-22",
            {"account_number": "7781-22"},
        ),
        ("my order was 150 dollars, account 2FA is on", {}),
        (
            "Klaus Becker speaking, customer ref: CUST-000451, ph. +1-212-555-0199 ext. 12",
            {"name": "Klaus Becker", "account_number": "CUST-000451", "phone": "+1-212-555-0199 ext. 12"},
        ),
        (
            "Invoice 2024/INV/00871, serial HUB-X2-00917",
            {"invoice_number": "2024/INV/00871", "serial_number": "HUB-X2-00917"},
        ),
        # Other languages label their numbers in their own words, before or after the number word.
        ("meu pedido NWH-481920 tá parado há 9 dias", {"order_number": "NWH-481920"}),
        ("número de pedido 5531, factura F-2291", {"order_number": "5531", "invoice_number": "F-2291"}),
        ("n° de commande 5531", {"order_number": "5531"}),
        (
            "Rechnungsnummer RE-2291, Seriennummer NH-30A7781",
            {"invoice_number": "RE-2291", "serial_number": "NH-30A7781"},
        ),
        ("ho pagato la fattura 3 volte", {}),  # a short number with no number word is not an id
        ("Bestellnummer 42", {"order_number": "42"}),  # the label holds its own number word
        # Amounts, counts, durations and years are not ids.
        ("my order was 2 days late and my account is 3 years old", {}),
        ("ma commande 2000 € et la cuenta 1500 pesos", {}),
        ("Rechnung 2024 fehlt", {}),
    ],
)
def test_customer_facts_in_other_words(said, expected):
    assert customer_facts([said]) == expected


def test_a_card_number_is_never_a_fact_and_never_quoted_to_an_agent():
    said = "my card 4111 1111 1111 1111 was charged twice, please help a person"
    assert customer_facts([said]) == {}
    brief = write_brief([said], [-0.4], "handoff_request", SETTINGS.skills, [])
    assert "4111 1111" not in brief.summary + brief.first_question + brief.latest_message
    assert "card ending 1111" in brief.first_question


def test_skills_are_tagged_from_the_configured_list():
    skills = SETTINGS.skills
    assert skill_tags(["I was charged twice, I want a refund"], skills, []) == ["Billing"]
    assert skill_tags(["the API returns 429 errors"], skills, []) == ["Technical"]
    assert skill_tags(["hello?"], skills, []) == ["General"]
    assert skill_tags(["my tax invoice"], ["Finance", "Support"], []) == ["Support"]
    assert skill_tags(["finance question about my invoice"], ["Finance", "Support"], []) == ["Finance"]


def test_the_brief_says_why_and_how_the_mood_went():
    brief = write_brief(
        ["my order NW-10001 is late", "this is useless, get me a person"],
        [0.0, -0.7],
        "handoff_request",
        SETTINGS.skills,
        ["Tracking Your Order"],
    )
    assert "NW-10001" in brief.summary and "asked for a person" in brief.summary
    assert brief.customer_facts["order_number"] == "NW-10001"
    assert brief.sentiment_trend.startswith("worsening")
    assert "Shipping" in brief.skills


@pytest.mark.parametrize("name", ["conversations.jsonl", "conversations-2.jsonl"])
def test_the_policy_on_held_out_conversations_by_other_authors(name, model_report):
    lines = (DATA / "heldout" / name).read_text().splitlines()
    report = label_report(lines, SETTINGS)
    model_report.append(
        f"escalation policy on {len(lines)} held-out conversations (tests/data/heldout/{name}):\n{report.render()}\n"
    )
    assert not report.errors
    assert report.recall("handoff_request") >= 0.95
    for reason in ("frustration", "repeated_question", "account_action"):
        assert report.escalated(reason) >= 0.85, reason
    assert report.false_escalation_rate <= 0.15


def test_requests_for_a_person_in_eight_more_languages_are_recognised(model_report):
    """Polish, Swedish, Danish, Turkish, Russian, Japanese, Chinese, Arabic: a held-out set by an author
    who saw neither the code nor the training turns. The articles are English and no glossary reads
    these languages, so a how-to question in them goes to a person (not asserted; reported)."""
    lines = (DATA / "heldout" / "conversations.more-languages.jsonl").read_text(encoding="utf-8").splitlines()
    report = label_report(lines, SETTINGS)
    model_report.append(
        "escalation policy on 160 held-out conversations in eight more languages "
        f"(tests/data/heldout/conversations.more-languages.jsonl):\n{report.render()}\n"
    )
    assert not report.errors
    assert report.recall("handoff_request") >= 0.9


@pytest.mark.parametrize(
    ("said", "about"),
    [
        ("I want to talk to a person. How long until I see the money back?", "How long until I see the money back?"),
        ("Get me a human! My invoice INV-2291 is wrong.", "My invoice INV-2291 is wrong."),
        ("agent please", ""),
    ],
)
def test_what_a_request_for_a_person_is_about_leaves_out_the_sentence_that_only_asks(said, about):
    """The copilot and the brief's problem search what is left: the filler of the request ("I want to
    ... a person.") would sway the search toward the refund request steps."""
    assert without_request_for_person(said, frozenset({"talk", "person", "human", "agent", "please", "get"})) == about
