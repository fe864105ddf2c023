"""One typed settings object, read from the environment, with defaults that run the demo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .business_hours import BusinessHours

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ConnectionBudget:
    """How one process shares its POSTGRES_CONNECTIONS among its pools (README, "Scaling out").

    Past its share a pool makes work wait for a connection, at most DATABASE_WAIT_SECONDS, then fails
    with a clear error: the server is never asked for more than the setting, so N processes fit in
    `max_connections` >= N x POSTGRES_CONNECTIONS plus what else uses the server."""

    work: int  # tickets, transcripts, agents, reports
    locks: int  # one per conversation run in progress, held for the run (an answer's whole stream)
    checkpoints: int
    history: int  # Chainlit's chat history

    @classmethod
    def of(cls, total: int) -> ConnectionBudget:
        locks, checkpoints, history = max(2, total * 2 // 5), max(2, total // 5), max(2, total // 5)
        return cls(
            work=max(2, total - locks - checkpoints - history), locks=locks, checkpoints=checkpoints, history=history
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Storage: SQLite files by default, Postgres when DATABASE_URL is set.
    database_url: str = Field(default="", alias="DATABASE_URL")
    data_dir: Path = Field(default=Path(".data"), alias="DATA_DIR")
    redis_url: str = Field(default="", alias="REDIS_URL")
    # Postgres connections this process opens at most, shared among its pools (engine/storage.py), and how
    # long work waits for one of them before it fails with a clear error instead of queueing on.
    postgres_connections: int = Field(default=40, ge=10, alias="POSTGRES_CONNECTIONS")
    database_wait_seconds: float = Field(default=10.0, gt=0, alias="DATABASE_WAIT_SECONDS")

    # LLM: an OpenAI-compatible endpoint when a key or base URL is set, the offline model otherwise.
    openai_api_key: str = Field(default="", alias="OPENAI_API_KEY")
    openai_base_url: str = Field(default="", alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o-mini", alias="OPENAI_MODEL")
    llm_timeout_seconds: float = Field(default=30.0, alias="LLM_TIMEOUT_SECONDS")
    offline_token_delay_seconds: float = Field(default=0.015, alias="OFFLINE_TOKEN_DELAY_SECONDS")

    kb_dir: Path = Field(default=PACKAGE_DIR / "kb", alias="KB_DIR")
    skills: Annotated[list[str], NoDecode] = Field(
        default=["Billing", "Technical", "Account", "Shipping", "General"], alias="SKILLS"
    )

    # Understanding a turn: a team's own labeled turns are learned beside the shipped corpus; trained
    # models are cached under the corpus's hash (default: DATA_DIR/models).
    intent_examples: Path | None = Field(default=None, alias="INTENT_EXAMPLES")
    model_cache_dir: Path | None = Field(default=None, alias="MODEL_CACHE_DIR")

    # Router thresholds. Frustration is the turn classifier's probability that a turn is frustrated.
    frustration_threshold: float = Field(default=0.35, alias="FRUSTRATION_THRESHOLD")
    # A turn asks for a person when that is its likeliest reading, or at least this probable: a request
    # with a question in the same message reads as a question first (0.35 added 2 of 711 help questions).
    handoff_probability: float = Field(default=0.35, alias="HANDOFF_PROBABILITY")
    frustration_jump: float = Field(default=0.35, alias="FRUSTRATION_JUMP")
    # A message written while waiting for a person leaves the queue when the classifier reads it as a
    # withdrawal at least this probably ("never mind, found it"; "ok thanks, I'll wait" stays).
    withdraw_probability: float = Field(default=0.6, alias="WITHDRAW_PROBABILITY")
    confidence_threshold: float = Field(default=0.5, alias="CONFIDENCE_THRESHOLD")
    repeat_similarity: float = Field(default=0.6, alias="REPEAT_SIMILARITY")
    # A turn that reads as an account action or as (not extreme) frustration is answered first, with a
    # person offered, when the articles answer it at least this confidently.
    answer_first_confidence: float = Field(default=0.75, alias="ANSWER_FIRST_CONFIDENCE")
    frustration_always_escalates: float = Field(default=0.8, alias="FRUSTRATION_ALWAYS_ESCALATES")
    account_action_always_escalates: float = Field(default=0.9, alias="ACCOUNT_ACTION_ALWAYS_ESCALATES")
    account_action_named_item_escalates: float = Field(default=0.7, alias="ACCOUNT_ACTION_NAMED_ITEM_ESCALATES")

    # A conversation's superseded checkpoints are deleted every this many turns, and when it closes (0: kept).
    checkpoint_prune_turns: int = Field(default=10, ge=0, alias="CHECKPOINT_PRUNE_TURNS")
    max_message_chars: int = Field(default=4000, alias="MAX_MESSAGE_CHARS")
    # An HTTP request's line and headers must arrive within this long of its first byte (or the connection).
    request_head_seconds: float = Field(default=10.0, gt=0, alias="REQUEST_HEAD_SECONDS")
    average_handle_minutes: float = Field(default=4.0, alias="AVERAGE_HANDLE_MINUTES")
    # When people are at the desk (empty: always); outside them a handoff says when they are back.
    business_hours_text: str = Field(default="", alias="BUSINESS_HOURS")
    holidays: Annotated[list[date], NoDecode] = Field(default=[], alias="HOLIDAYS")

    # Customer chat: a site that knows its customers names the header its proxy sets.
    customer_id_header: str = Field(default="", alias="CUSTOMER_ID_HEADER")

    # Agent portal.
    portal_secret: str = Field(default="", alias="PORTAL_SECRET")  # empty: generated into DATA_DIR
    portal_token_hours: float = Field(default=12.0, alias="PORTAL_TOKEN_HOURS")
    demo_agents: bool = Field(default=True, alias="DEMO_AGENTS")
    # claim: agents take tickets from the queue; auto: a ticket goes at once to an available agent with its skill.
    assignment: Literal["claim", "auto"] = Field(default="claim", alias="ASSIGNMENT")

    # Operating it: JSON log lines for a log pipeline; a bearer token that /metrics asks for (empty: open).
    log_format: Literal["text", "json"] = Field(default="text", alias="LOG_FORMAT")
    metrics_token: str = Field(default="", alias="METRICS_TOKEN")

    @field_validator("skills", "holidays", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        # SKILLS=Billing,Technical and HOLIDAYS=2026-12-25,2026-12-26 read better in an env file than JSON lists.
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _hours_are_readable(self) -> Settings:
        _ = self.business_hours  # a BUSINESS_HOURS that cannot be read stops the start with its reason
        return self

    @cached_property
    def business_hours(self) -> BusinessHours | None:
        return (
            BusinessHours.parse(self.business_hours_text, self.holidays) if self.business_hours_text.strip() else None
        )

    @field_validator("intent_examples", "model_cache_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def connection_budget(self) -> ConnectionBudget:
        return ConnectionBudget.of(self.postgres_connections)

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql"))

    @property
    def uses_llm_endpoint(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def sqlalchemy_url(self) -> str:
        """The async SQLAlchemy URL for tickets and the chat history."""
        if not self.uses_postgres:
            return f"sqlite+aiosqlite:///{self.data_dir / 'escalation.db'}"
        _scheme, rest = self.database_url.split("://", 1)
        return f"postgresql+asyncpg://{rest}"

    @property
    def history_sqlalchemy_url(self) -> str:
        """Chainlit's chat history: the same Postgres, or a SQLite file of its own (fewer write locks)."""
        if self.uses_postgres:
            return self.sqlalchemy_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'chat_history.db'}"

    @property
    def model_cache_path(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def checkpoint_path(self) -> Path:
        return self.data_dir / "checkpoints.db"

    @property
    def psycopg_url(self) -> str:
        _scheme, rest = self.database_url.split("://", 1)
        return f"postgresql://{rest}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
