"""`POST /returns` for a returns portal: bearer-authenticated, every rule checked before an RMA exists."""
import hmac
from collections.abc import Callable

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from temporalio.client import Client

from adapters.errors import AdapterError
from canonical.returns import ReturnLine
from config import Settings
from starter.http import BodyTooLarge, read_body, refuse
from starter.returns import ReturnRefused, authorise_return


class ReturnAsked(BaseModel):
    store_id: str
    order_id: str
    lines: list[ReturnLine]


def returns_handler(settings: Settings, client: Callable[[], Client]):
    token = settings.starter.returns_api_token.get_secret_value()

    async def create_return(request: Request) -> JSONResponse:
        if not token:
            return refuse(404, "the returns endpoint is not configured")
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return refuse(401, "invalid or missing bearer token")
        try:
            asked = ReturnAsked.model_validate_json(await read_body(request, settings.starter.max_body_bytes))
        except BodyTooLarge:
            return refuse(413, f"body larger than {settings.starter.max_body_bytes} bytes")
        except ValidationError as err:
            return refuse(400, f"malformed return request: {err.errors(include_url=False)}")
        try:
            authorised = await authorise_return(client(), settings, asked.store_id, asked.order_id, asked.lines)
        except ReturnRefused as refused:
            return refuse(422, str(refused))
        except AdapterError as err:
            return refuse(502, f"could not check the order: {err}")
        return JSONResponse({"rma": authorised.rma, "workflow_id": authorised.workflow_id,
                             "needs_approval": authorised.needs_approval}, status_code=201)  # fmt: skip

    return create_return
