"""Signed, expiring login tokens for agents."""

from __future__ import annotations

from datetime import UTC, datetime

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class AgentTokens:
    def __init__(self, secret: str, lifetime_hours: float) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="agent-portal")
        self._max_age = int(lifetime_hours * 3600)

    def issue(self, agent_name: str) -> str:
        return self._serializer.dumps({"agent": agent_name})

    def holder(self, token: str) -> tuple[str, float] | None:
        """The agent the token was issued to and the seconds it has left, or None when it is forged,
        malformed or expired."""
        try:
            payload, issued = self._serializer.loads(token, max_age=self._max_age, return_timestamp=True)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("agent"), str):
            return None
        return payload["agent"], self._max_age - (datetime.now(UTC) - issued).total_seconds()
