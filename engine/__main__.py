"""`python -m engine assess [FILE]`: JSON lines of conversations in, one JSON decision per line out.

`python -m engine assess --labels FILE` compares the decisions with labeled conversations instead;
`python -m engine assess --answers FILE` asks labeled help questions and scores the answers.
"""

from __future__ import annotations

import argparse
import sys

from .answer_quality import answer_report
from .assess import assess_lines, label_report
from .config import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    assess = commands.add_parser("assess", help="replay transcripts against the escalation policy")
    assess.add_argument(
        "file", nargs="?", type=argparse.FileType("r"), default=sys.stdin, help="JSON lines (default: stdin)"
    )
    assess.add_argument(
        "--labels",
        action="store_true",
        help='the lines are labeled ({"messages": [...], "escalate": bool, "reason": ...}): print recall per reason, '
        "false escalations and a confusion table",
    )
    assess.add_argument(
        "--answers",
        action="store_true",
        help='the lines are help questions ({"question", "article", "key_facts": [...]}): print the share answered '
        "from the right article, with every key fact, and handed to a person",
    )
    arguments = parser.parse_args(argv)
    if arguments.answers:
        answers = answer_report(arguments.file, get_settings())
        print(answers.render())
        return 1 if answers.errors else 0
    if arguments.labels:
        report = label_report(arguments.file, get_settings())
        print(report.render())
        return 1 if report.errors else 0
    failed = False
    for line in assess_lines(arguments.file, get_settings()):
        failed = failed or line.startswith('{"error"')
        print(line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
