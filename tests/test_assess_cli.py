"""`python -m engine assess`: a support team replays its transcripts against the policy."""

from __future__ import annotations

import json
import subprocess
import sys


def run_assess(stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", "assess"], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_each_conversation_gets_one_decision_line():
    conversations = [
        {"messages": [{"role": "customer", "content": "How do I turn on two-factor authentication?"}]},
        {"messages": [{"role": "customer", "content": "I was charged twice, get me a manager now"}]},
    ]
    result = run_assess("".join(json.dumps(c) + "\n" for c in conversations))
    assert result.returncode == 0, result.stderr
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["escalate"] is False and first["confidence"] > 0.5
    assert second == {**second, "escalate": True, "reason": "handoff_request"}
    assert "Billing" in second["skills"]
    assert set(first) == {
        "escalate",
        "reason",
        "intent",
        "language",
        "sentiment",
        "frustration",
        "confidence",
        "skills",
    }
    assert first["intent"] == "question" and second["intent"] == "handoff_request"


def test_a_bad_line_gets_an_error_line_and_the_rest_still_run():
    result = run_assess('not json\n{"messages": []}\n{"messages": [{"role": "customer", "content": "hi"}]}\n')
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert "line 1" in lines[0]["error"] and "line 2" in lines[1]["error"]
    assert lines[2]["escalate"] is False
    assert result.returncode == 1


def test_labeled_conversations_get_recall_per_reason_false_escalations_and_a_confusion_table(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    rows = [
        {
            "messages": [{"role": "customer", "content": "I'd like to talk to a human, please"}],
            "escalate": True,
            "reason": "handoff_request",
        },
        {"messages": [{"role": "customer", "content": "thanks, that's all!"}], "escalate": False},
        {"messages": [{"role": "customer", "content": "how do I reset my password?"}], "escalate": False},
        {"messages": [{"role": "customer", "content": "hi"}], "escalate": True, "reason": "handoff_request"},
    ]
    labeled.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = subprocess.run(
        [sys.executable, "-m", "engine", "assess", "--labels", str(labeled)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:4] == ["handoff_request", "2", "50%", "50%"] for line in lines), result.stdout
    assert "false escalations: 0 of 2 (0%)" in result.stdout
    assert "confusion (rows expected, columns given):" in result.stdout


def test_a_labeled_line_without_a_decision_is_named():
    result = subprocess.run(
        [sys.executable, "-m", "engine", "assess", "--labels"],
        input='{"messages": [{"role": "customer", "content": "hi"}]}\n',
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert 'error: line 1: a labeled conversation says "escalate": true or false' in result.stdout
