"""Signed, expiring login tokens for agents."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class AgentTokens:
    def __init__(self, secret: str, lifetime_hours: float) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="agent-portal")
        self._max_age = int(lifetime_hours * 3600)

    def issue(self, agent_name: str) -> str:
        return self._serializer.dumps({"agent": agent_name})

    def agent_name(self, token: str) -> str | None:
        """The agent the token was issued to, or None when it is forged, malformed or expired."""
        try:
            payload = self._serializer.loads(token, max_age=self._max_age)
        except (BadSignature, SignatureExpired):
            return None
        return payload.get("agent") if isinstance(payload, dict) else None
