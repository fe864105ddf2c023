"""Shared fixtures: real Postgres, Redis and a local OpenAI-compatible server; services on temp data."""

from __future__ import annotations

import os
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.config import Settings
from engine.service import ConversationService
from tests.clients import SETTING_NAMES, RunningApp
from tests.fake_openai import FakeOpenAI

# Every engine and app the suite starts is configured by the test itself: an LLM key, database or
# Redis URL in the caller's environment (a developer's shell, a CI runner) must not leak into them.
for _name in SETTING_NAMES:
    os.environ.pop(_name, None)
# Trained models are cached under their corpus's hash: one cache for every engine and app the suite
# starts, so the classifier trains once per corpus, not once per test.
MODEL_CACHE_DIR = Path(tempfile.gettempdir()) / "escalation-engine-test-models"
os.environ["MODEL_CACHE_DIR"] = str(MODEL_CACHE_DIR)

# CI sets REQUIRE_SERVICES=1: a missing Postgres, Redis or Chromium is then a failure, not a skip.
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def need(available: bool, reason: str) -> None:
    """Skips the test when a service is missing, or fails it when CI requires every service."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1, so this is a failure)")
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "DATA_DIR": tmp_path / "data",
        "OFFLINE_TOKEN_DELAY_SECONDS": 0.0,
        "MODEL_CACHE_DIR": MODEL_CACHE_DIR,
    }
    values.update(overrides)
    return Settings(**{key: value for key, value in values.items()})


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    need(_port_open("127.0.0.1", 5432), "Postgres is not running on 127.0.0.1:5432")
    return POSTGRES_ADMIN_URL


@pytest.fixture
async def postgres_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    import asyncpg

    name = f"ee_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(postgres_admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
def redis_url() -> str:
    need(_port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ConversationService]:
    """The engine on embedded defaults: SQLite files, in-process bus, offline model."""
    engine_service = await ConversationService.open(settings_for(tmp_path))
    yield engine_service
    await engine_service.close()


@pytest.fixture
async def llm_service(tmp_path: Path, fake_llm: FakeOpenAI) -> AsyncIterator[ConversationService]:
    """The engine with the real ChatOpenAI client pointed at the local fake server."""
    settings = settings_for(tmp_path, OPENAI_BASE_URL=fake_llm.url, OPENAI_API_KEY="test-key", LLM_TIMEOUT_SECONDS=2.0)
    engine_service = await ConversationService.open(settings)
    yield engine_service
    await engine_service.close()


def app_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {
        "DATA_DIR": str(data_dir),
        "OFFLINE_TOKEN_DELAY_SECONDS": "0.005",
        "PORTAL_SECRET": "test-portal-secret",
        "MODEL_CACHE_DIR": str(MODEL_CACHE_DIR),
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningApp]:
    """The real app on embedded defaults (SQLite, in-process bus, offline model), shared by a session."""
    running = await RunningApp(free_port(), app_env(tmp_path_factory.mktemp("app"))).start()
    yield running
    await running.stop()


_TEST_STARTED = pytest.StashKey[float]()
TEST_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_TEST_STARTED] = time.time()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """A failing test's report carries the logs of the apps it used: the child's side of the story."""
    report = yield
    if report.failed and call.when == "call":
        item.stash[TEST_FAILED] = True
        for number, running in enumerate(RunningApp.started):
            tail = running.log_since(item.stash.get(_TEST_STARTED, 0.0))
            if tail:
                report.sections.append((f"app {number} log ({running.base_url})", tail))
    return report


MODEL_REPORTS: list[str] = []


@pytest.fixture(scope="session")
def model_report() -> list[str]:
    """Lines a test adds here are printed at the end of the run: how each learned model does on held-out data."""
    return MODEL_REPORTS


FAULT_REPORTS: list[str] = []


@pytest.fixture(scope="session")
def fault_report() -> list[str]:
    """Lines a fault-injection test adds here are printed at the end of the run: its counts per message."""
    return FAULT_REPORTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for title, lines in (
        ("learned models on held-out data (never trained or tuned on)", MODEL_REPORTS),
        ("injected faults: what happened to every message sent", FAULT_REPORTS),
    ):
        if lines:
            terminalreporter.section(title)
            for line in lines:
                terminalreporter.write_line(line)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Trains the models once, before any app starts: every app of the run then loads them from the cache.
    Without the built portal page no app would start: that is said once, here, with the fix."""
    page = Path(__file__).resolve().parent.parent / "agent_portal" / "static" / "portal" / "index.html"
    if not page.exists():
        raise pytest.UsageError(f"{page} is not built: run `make install` (or `npm ci && npm run build`) first")
    from engine.knowledge import SHIPPED_KB, KnowledgeBase
    from engine.understanding import load_understanding

    load_understanding(MODEL_CACHE_DIR)
    KnowledgeBase(SHIPPED_KB, MODEL_CACHE_DIR)
