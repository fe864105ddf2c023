"""`python -m agent_portal add-agent NAME --skills Billing,Technical [--languages en,es] [--supervisor]`: manage
agent accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from engine.config import get_settings
from engine.storage import make_sql_engine
from engine.tickets import TicketStore


async def add_agent(arguments: argparse.Namespace) -> int:
    settings = get_settings()
    skills = [skill.strip() for skill in arguments.skills.split(",") if skill.strip()]
    unknown = sorted(set(skills) - set(settings.skills))
    if not skills or unknown:
        print(
            f"error: skills must come from {', '.join(settings.skills)}; unknown: {', '.join(unknown) or 'none given'}",
            file=sys.stderr,
        )
        return 2
    languages = [code.strip().lower() for code in arguments.languages.split(",") if code.strip()]
    if not languages or not all(len(code) == 2 and code.isalpha() for code in languages):
        print("error: languages are two-letter ISO 639-1 codes, such as en,es", file=sys.stderr)
        return 2
    password = os.environ.get("AGENT_PASSWORD") or getpass.getpass(f"Password for {arguments.name}: ")
    if len(password) < 8:
        print("error: a password has at least 8 characters", file=sys.stderr)
        return 2
    engine = make_sql_engine(settings)
    try:
        store = TicketStore(engine)
        await store.create_tables()
        agent = await store.add_agent(
            arguments.name, password, skills, arguments.supervisor, arguments.max_chats, languages=languages
        )
    finally:
        await engine.dispose()
    role = "supervisor" if agent.is_supervisor else "agent"
    print(
        f"{role} {agent.name} saved with skills {', '.join(agent.skills)}, speaking {', '.join(agent.languages)} "
        f"(up to {agent.max_chats} chats at once)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent_portal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add-agent", help="create or update an agent (password from AGENT_PASSWORD or a prompt)")
    add.add_argument("name")
    add.add_argument("--skills", required=True, help="comma-separated, from the SKILLS setting")
    add.add_argument("--supervisor", action="store_true", help="sees every open ticket")
    add.add_argument("--max-chats", type=int, default=3, help="conversations held at once (default 3)")
    add.add_argument("--languages", default="en", help="comma-separated ISO 639-1 codes the agent speaks (default en)")
    arguments = parser.parse_args(argv)
    return asyncio.run(add_agent(arguments))


if __name__ == "__main__":
    sys.exit(main())
