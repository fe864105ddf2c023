"""Answer quality on held-out help questions, asked as a customer's first message on embedded defaults."""

from __future__ import annotations

from pathlib import Path

from engine.answer_quality import answer_report
from engine.config import Settings

HELD_OUT = Path(__file__).parent / "data" / "heldout" / "answers.jsonl"


def test_held_out_help_questions_get_the_right_section_whole(model_report):
    # Written by someone who saw only the articles; the ranker and the section classifier never saw them.
    report = answer_report(HELD_OUT.read_text(encoding="utf-8").splitlines(), Settings())
    model_report.append(
        f"answers to held-out help questions (tests/data/heldout/answers.jsonl):\n{report.render(show_misses=False)}\n"
    )
    assert not report.errors
    assert report.share("right_article") >= 0.75
    assert report.share("complete") >= 0.65
    assert report.share("handed_off") <= 0.2
    handed, unanswerable = report.unanswerable_handed_off
    assert handed / unanswerable >= 0.4


def test_a_line_that_is_not_a_labeled_question_is_reported_not_fatal():
    report = answer_report(['{"question": "amex?", "article": "no-such-article"}', "not json", ""], Settings())
    assert len(report.errors) == 2 and "no article named 'no-such-article'" in report.errors[0]
