"""`python -m bench [--full] [--db sqlite,postgres] [--write]`: handoff latency, token overhead, stop,
capacity and checkpoint growth, each printed beside a baseline measured in the same run."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import socketio

from engine.config import Settings
from tests.clients import RunningApp
from tests.conftest import POSTGRES_ADMIN_URL, free_port
from tests.fake_openai import FakeOpenAI

from . import figures
from .analysis import analysis_latencies, model_memory_kib
from .stats import Table, ratio, summary_ms

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
CAPACITY_LEVELS = (50, 100, 250, 500, 750, 1000, 1500, 2000)
HOW_TO_RUN = (
    "How to run: `make bench` (quick, under 2 minutes: 1 and 50 conversations in flight, both "
    'databases) or `make bench BENCH_ARGS="--full --write"` (adds 200 in flight, more samples and the '
    "capacity sweep, and rewrites this table). Everything runs against the real app (`chainlit run "
    "app.py` in a child process), real sockets, the real portal, and the local OpenAI-compatible test "
    "server (`tests/fake_openai.py`) as the LLM. Times are taken in the benchmark process, which also "
    "hosts every client, on a shared 2-core VM: read ratios, not absolutes."
)


def fmt(stats: dict[str, float], *keys: str) -> str:
    return " / ".join(f"{stats[key]:.1f}" for key in keys) + " ms"


async def fresh_postgres_database() -> str:
    import asyncpg

    name = f"ee_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_postgres_database(url: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await admin.close()


async def bench_database(
    database: str, full: bool, relay: dict[str, float], fake_llm: FakeOpenAI, table: Table, work: Path
) -> None:
    database_url = await fresh_postgres_database() if database == "postgres" else ""
    extra = {"DATABASE_URL": database_url} if database_url else {}
    app = await RunningApp(
        free_port(), figures.bench_env(work / database, OPENAI_BASE_URL=fake_llm.url, OPENAI_API_KEY="bench", **extra)
    ).start()
    handoffs = figures.Handoffs(app)
    samples = 300 if full else 60
    print(f"[{database}] baseline: the relay committing each message first…", flush=True)
    durable_store = database_url or str(work / database / "durable-relay.db")
    durable = summary_ms(await figures.relay_latencies(samples, durable_store))
    table.add(
        f"[{database}] baseline: durable relay, one INSERT committed per message (p50/p95/p99)",
        fmt(durable, "p50", "p95", "p99"),
        fmt(relay, "p50", "p95", "p99"),
        f"p99 {ratio(durable['p99'], relay['p99'])}",
        "",
    )
    try:
        await handoffs.start_agent()
        for level in (1, 50, 200) if full else (1, 50):
            print(f"[{database}] {level} escalated conversations in flight…", flush=True)
            await handoffs.grow_to(level, timed=level <= 50)
            latency = summary_ms(await handoffs.reply_latencies(samples))
            table.add(
                f"[{database}] agent reply → customer, {level} in flight (p50/p95/p99)",
                fmt(latency, "p50", "p95", "p99"),
                fmt(relay, "p50", "p95", "p99"),
                f"p99 {ratio(latency['p99'], relay['p99'])}; {ratio(latency['p99'], durable['p99'])} durable relay",
                "p99 ≤ 3× relay, ≤ 2× durable relay, at 200" if level == 200 else "",
            )
        escalation = summary_ms(handoffs.escalation_latencies)
        table.add(
            f"[{database}] escalation → agent (p50/p99, n={escalation['n']})",
            fmt(escalation, "p50", "p99"),
            fmt(relay, "p50", "p99"),
            f"p99 {ratio(escalation['p99'], relay['p99'])}",
            "p99 < 50 ms",
        )
        await handoffs.close()

        print(f"[{database}] first token…", flush=True)
        fake_llm.reset(reply="From Resetting Your Password: click Forgot password on the login page.")
        direct = summary_ms(await figures.direct_first_token(fake_llm, 30 if full else 10))
        through_app = summary_ms(await figures.app_first_token(app, 30 if full else 10))
        table.add(
            f"[{database}] first-token overhead (p50, app − direct)",
            f"{through_app['p50'] - direct['p50']:.1f} ms (app {through_app['p50']:.1f} ms)",
            f"direct {direct['p50']:.1f} ms",
            ratio(through_app["p50"], direct["p50"]),
            "overhead < 5 ms at p50",
        )

        print(f"[{database}] CPU per turn…", flush=True)
        questions = figures.answerable_questions(app.settings, 40 if full else 15)
        per_turn, connect_only = await figures.app_cpu_per_turn(app, questions)
        table.add(
            f"[{database}] app CPU per customer turn (a new chat and one answered question, LLM over HTTP)",
            f"{per_turn * 1000:.1f} ms (the question itself {(per_turn - connect_only) * 1000:.1f} ms)",
            f"a chat that only connects: {connect_only * 1000:.1f} ms",
            ratio(per_turn, connect_only),
            "≤ 10 ms per turn",
        )

        print(f"[{database}] stop…", flush=True)
        closings, late = await figures.stop_figures(app, fake_llm, 10 if full else 5)
        closing = summary_ms(closings)
        table.add(
            f"[{database}] stop → upstream closed (p50/max); tokens after stop (max)",
            f"{closing['p50']:.1f} / {max(closings) * 1000:.1f} ms; {max(late)} tokens",
            fmt(relay, "p50"),
            f"p50 {ratio(closing['p50'], relay['p50'])}",
            "≤ 50 ms, ≤ 1 token",
        )

        if full:
            await capacity(app, table, database)
    finally:
        await app.stop()
        if database_url:
            await drop_postgres_database(database_url)

    print(f"[{database}] checkpoint growth…", flush=True)
    per_turn = await _long_conversation(work, database, prune_turns=0)  # every checkpoint kept: what a turn writes
    pruned = await _long_conversation(work, database, prune_turns=10)
    (bytes10, seconds10, _), (bytes100, seconds100, _) = per_turn[10], per_turn[100]
    table.add(
        f"[{database}] checkpoint bytes per turn, turn 100 vs turn 10",
        f"{bytes100:,} B",
        f"turn 10: {bytes10:,} B",
        ratio(bytes100, bytes10),
        "≤ 4 KB at turn 100, ≤ 2×",
    )
    # Pruned every 10 turns: the most stored between prunes, late in the conversation against the middle
    # (by turn 41 the state's sentiment window is full, so a checkpoint has its full size).
    stored_middle = max(stored for _, _, stored in (pruned[turn] for turn in range(41, 51)))
    stored_late = max(stored for _, _, stored in (pruned[turn] for turn in range(91, 101)))
    table.add(
        f"[{database}] checkpoint bytes stored for the conversation, turns 91–100 vs 41–50 (most, pruned every 10)",
        f"{stored_late:,} B",
        f"turns 41–50: {stored_middle:,} B; unpruned at turn 100: {per_turn[100][2]:,} B",
        ratio(stored_late, stored_middle),
        "≤ 1.2×",
    )
    table.add(
        f"[{database}] graph time per turn, turn 100 vs turn 10",
        f"{seconds100 * 1000:.1f} ms",
        f"turn 10: {seconds10 * 1000:.1f} ms",
        ratio(seconds100, seconds10),
        "",
    )


async def _long_conversation(work: Path, database: str, prune_turns: int) -> dict[int, tuple[int, float, int]]:
    """100 answered turns of one conversation on a fresh database, checkpoints pruned every `prune_turns`."""
    growth_url = await fresh_postgres_database() if database == "postgres" else ""
    settings = Settings(
        DATA_DIR=work / f"{database}-growth-{prune_turns}",
        DATABASE_URL=growth_url,
        OFFLINE_TOKEN_DELAY_SECONDS=0,
        REPEAT_SIMILARITY=1.01,
        CHECKPOINT_PRUNE_TURNS=prune_turns,
    )
    try:
        return await figures.checkpoint_growth(settings, 100)
    finally:
        if growth_url:
            await drop_postgres_database(growth_url)


async def capacity(app: RunningApp, table: Table, database: str) -> None:
    """Grow to mixed load (90% idle, 5% chatting, 5% escalated) until reply p99 passes 100 ms."""
    levels = CAPACITY_LEVELS
    idle: list = []
    chatting: list = []
    handoffs = figures.Handoffs(app)
    await handoffs.start_agent()
    baseline_rss = figures.rss_bytes(app.process.pid)
    held = 0
    stop_chatter = asyncio.Event()
    chatter_task = None
    try:
        for level in levels:
            print(f"[{database}] capacity: {level} conversations…", flush=True)
            want_idle, want_chatting, want_escalated = (
                int(level * 0.9),
                int(level * 0.05),
                level - int(level * 0.9) - int(level * 0.05),
            )
            try:
                idle += await figures.gather_limited(
                    [figures.idle_customer(app) for _ in range(want_idle - len(idle))], limit=20
                )
                chatting += await figures.gather_limited(
                    [figures.idle_customer(app) for _ in range(want_chatting - len(chatting))], limit=20
                )
            except (socketio.exceptions.ConnectionError, httpx.HTTPError) as refused:  # its sign-in timed out too
                table.add(
                    f"[{database}] capacity: {level} conversations",
                    f"could not connect them all: {refused}",
                    "—",
                    "—",
                    "",
                )
                break
            await handoffs.grow_to(max(1, want_escalated))
            if chatter_task:  # restarted so the newcomers chat too, each on its own phase
                stop_chatter.set()
                await chatter_task
                stop_chatter = asyncio.Event()
            chatter_task = asyncio.create_task(figures.chatter(app, chatting, stop_chatter))
            cpu_before, wall_before = figures.cpu_seconds(app.process.pid), time.perf_counter()
            latency = summary_ms(await handoffs.reply_latencies(100))
            app_cpu = (figures.cpu_seconds(app.process.pid) - cpu_before) / (time.perf_counter() - wall_before)
            per_idle = (figures.rss_bytes(app.process.pid) - baseline_rss) / max(1, level)
            table.add(
                f"[{database}] capacity: reply p99 at {level} conversations (90% idle / 5% chatting / 5% escalated)",
                f"p99 {latency['p99']:.1f} ms; app CPU {app_cpu:.0%} of a core; "
                f"{per_idle / 1024:.0f} KiB per conversation",
                "—",
                "—",
                "p99 < 100 ms up to 2,000",
            )
            if latency["p99"] > 100:
                break
            held = level
        held_text = f"{held:,}" if held else f"fewer than {levels[0]:,}"
        table.add(f"[{database}] capacity: conversations held with reply p99 ≤ 100 ms", held_text, "—", "—", "2,000")
    finally:
        stop_chatter.set()
        if chatter_task:
            await chatter_task
        await figures.gather_limited([customer.close() for customer in idle + chatting], limit=50)
        await handoffs.close()


async def main(full: bool, databases: list[str], write: bool) -> None:
    table = Table()
    print("baseline: bare python-socketio relay…", flush=True)
    relay = summary_ms(await figures.relay_latencies(500 if full else 200))
    table.add("baseline: bare socket.io relay client → server → client (p50/p95/p99)", fmt(relay, "p50", "p95", "p99"))
    print("understanding one turn…", flush=True)
    analysis_settings = Settings()
    analysed, lexical = (summary_ms(samples) for samples in analysis_latencies(analysis_settings, 600 if full else 200))
    table.add(
        "analysing one turn: classifier + language + retrieval + repeats (p50/p99)",
        fmt(analysed, "p50", "p99"),
        f"BM25 scoring alone {fmt(lexical, 'p50', 'p99')}",
        f"p50 {ratio(analysed['p50'], lexical['p50'])}",
        "≤ 3 ms at p50",
    )
    table.add(
        "resident memory the trained models add",
        f"{model_memory_kib(analysis_settings) / 1024:.0f} MiB",
        "—",
        "—",
        "≤ 150 MB",
    )
    fake_llm = FakeOpenAI()
    await fake_llm.start()
    try:
        with tempfile.TemporaryDirectory(prefix="ee-bench-") as work:
            for database in databases:
                await bench_database(database, full, relay, fake_llm, table, Path(work))
    finally:
        await fake_llm.stop()
    print()
    print(table.markdown())
    if write:
        write_results(
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python -m bench{' --full' if full else ''}` on "
            f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}).",
            table.markdown(),
        )


def write_results(run_line: str, table: str) -> None:
    """Rewrites the table in bench/RESULTS.md and keeps the notes below it (from its first `## `)."""
    text = RESULTS.read_text() if RESULTS.exists() else ""
    notes = text[text.find("\n## ") :] if "\n## " in text else ""
    RESULTS.write_text(f"# Benchmark results\n\n{HOW_TO_RUN}\n\n{run_line}\n\n{table}\n{notes}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--full",
        action="store_true",
        help="200 conversations in flight, more samples, and the capacity run up to 2,000",
    )
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--write", action="store_true", help="write the table to bench/RESULTS.md")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.full, [d.strip() for d in arguments.db.split(",") if d.strip()], arguments.write))
