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


async def _owned(
    request: Request, model: type[UpdateFeedbackRequest] | type[DeleteFeedbackRequest], shape: str, query: str
) -> tuple[Any, str] | Response:
    """The request's payload and the thread of the record it names, when that record is in one of the
    signed-in customer's conversations; otherwise the response that refuses it."""
    customer = _customer(request)
    if customer is None:
        return JSONResponse({"detail": "Unauthorized"}, 401)
    try:
        payload = model.model_validate(await request.json())
    except (ValueError, ValidationError):
        return JSONResponse({"detail": f"send {shape}"}, 422)
    record_id = payload.feedback.forId if isinstance(payload, UpdateFeedbackRequest) else payload.feedbackId
    found = await _conversation(query, record_id)
    if found is None or found[0] != customer:
        return JSONResponse(_NOT_YOURS, 404)
    return payload, found[1]


async def update_feedback(request: Request) -> Response:
    owned = await _owned(request, UpdateFeedbackRequest, "{feedback: {forId, value, comment?}, sessionId}", _STEP_OWNER)
    if isinstance(owned, Response):
        return owned
    update, thread_id = owned
    update.feedback.threadId = thread_id  # the message's own conversation, whatever the client said
    feedback_id = await get_data_layer().upsert_feedback(feedback=update.feedback)
    return JSONResponse({"success": True, "feedbackId": feedback_id})


async def delete_feedback(request: Request) -> Response:
    owned = await _owned(request, DeleteFeedbackRequest, "{feedbackId}", _FEEDBACK_OWNER)
    if isinstance(owned, Response):
        return owned
    await get_data_layer().delete_feedback(owned[0].feedbackId)
    return JSONResponse({"success": True})


feedback_routes = [
    Route("/feedback", update_feedback, methods=["PUT"]),
    Route("/feedback", delete_feedback, methods=["DELETE"]),
]
