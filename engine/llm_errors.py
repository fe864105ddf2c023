"""The failures of an LLM call that mean "the assistant is unavailable", not a bug of ours."""

from __future__ import annotations

import asyncio

import httpx
import openai

LLM_ERRORS: tuple[type[BaseException], ...] = (openai.APIError, httpx.HTTPError, asyncio.TimeoutError)
