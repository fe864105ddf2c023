"""`python -m engine assess`: a support team replays its transcripts against the policy."""

from __future__ import annotations

import json
import subprocess
import sys


def run_assess(stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", "assess"], input=stdin, capture_output=True, text=True, timeout=60)


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
    assert set(first) == {"escalate", "reason", "sentiment", "frustration", "confidence", "skills"}


def test_a_bad_line_gets_an_error_line_and_the_rest_still_run():
    result = run_assess('not json\n{"messages": []}\n{"messages": [{"role": "customer", "content": "hi"}]}\n')
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert "line 1" in lines[0]["error"] and "line 2" in lines[1]["error"]
    assert lines[2]["escalate"] is False
    assert result.returncode == 1
