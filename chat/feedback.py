"""`PUT /feedback` and `DELETE /feedback`: a customer rates messages of their own conversations only.

Chainlit's own routes store feedback for whatever message id they are sent, so one customer could
attach (or remove) feedback on another's conversation. These routes, ahead of Chainlit's, check that the
message belongs to a thread of the signed-in customer, then store through the same data layer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from chainlit.auth import get_token_from_cookies
from chainlit.auth.jwt import decode_jwt
from chainlit.data import get_data_layer
from chainlit.types import DeleteFeedbackRequest, UpdateFeedbackRequest
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_STEP_OWNER = (
    'SELECT t."userIdentifier" AS owner, t."id" AS thread FROM steps s JOIN threads t ON t."id" = s."threadId" '
    'WHERE s."id" = :id'
)
_FEEDBACK_OWNER = (
    'SELECT t."userIdentifier" AS owner, t."id" AS thread FROM feedbacks f JOIN steps s ON s."id" = f."forId" '
    'JOIN threads t ON t."id" = s."threadId" WHERE f."id" = :id'
)
_LOOKS, _LOOK_AGAIN_SECONDS = 20, 0.1
_NOT_YOURS = {"detail": "there is no such message in your conversations"}


def _customer(request: Request) -> str | None:
    """The signed-in customer, from Chainlit's cookie (or its bearer fallback), or None."""
    token = get_token_from_cookies(request.cookies) or request.headers.get("authorization", "").removeprefix("Bearer ")
    if not token:
        return None
    try:
        return decode_jwt(token).identifier
    except Exception:  # a forged or expired cookie is no customer
        return None


async def _conversation(query: str, record_id: str) -> tuple[str, str] | None:
    """Whose conversation the record is in, and which: (customer, thread id). Chainlit stores a message
    a moment after showing it, so a rating clicked at once may arrive first: a record not found is
    looked for again, briefly."""
    data_layer: Any = get_data_layer()
    for _ in range(_LOOKS):
        rows = await data_layer.execute_sql(query=query, parameters={"id": record_id})
        if isinstance(rows, list) and rows:
            return str(rows[0]["owner"]), str(rows[0]["thread"])
        await asyncio.sleep(_LOOK_AGAIN_SECONDS)
    return None


async def _body(request: Request, model: type[UpdateFeedbackRequest] | type[DeleteFeedbackRequest]) -> Any:
    try:
        return model.model_validate(await request.json())
    except (ValueError, ValidationError):
        return None


async def update_feedback(request: Request) -> Response:
    customer = _customer(request)
    if customer is None:
        return JSONResponse({"detail": "Unauthorized"}, 401)
    update = await _body(request, UpdateFeedbackRequest)
    if update is None:
        return JSONResponse({"detail": "send {feedback: {forId, value, comment?}, sessionId}"}, 422)
    found = await _conversation(_STEP_OWNER, update.feedback.forId)
    if found is None or found[0] != customer:
        return JSONResponse(_NOT_YOURS, 404)
    update.feedback.threadId = found[1]  # the message's own conversation, whatever the client said
    feedback_id = await get_data_layer().upsert_feedback(feedback=update.feedback)
    return JSONResponse({"success": True, "feedbackId": feedback_id})


async def delete_feedback(request: Request) -> Response:
    customer = _customer(request)
    if customer is None:
        return JSONResponse({"detail": "Unauthorized"}, 401)
    payload = await _body(request, DeleteFeedbackRequest)
    if payload is None:
        return JSONResponse({"detail": "send {feedbackId}"}, 422)
    found = await _conversation(_FEEDBACK_OWNER, payload.feedbackId)
    if found is None or found[0] != customer:
        return JSONResponse(_NOT_YOURS, 404)
    await get_data_layer().delete_feedback(payload.feedbackId)
    return JSONResponse({"success": True})


feedback_routes = [
    Route("/feedback", update_feedback, methods=["PUT"]),
    Route("/feedback", delete_feedback, methods=["DELETE"]),
]
