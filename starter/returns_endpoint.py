"""`POST /returns` for a returns portal: bearer-authenticated, every rule checked before an RMA exists.

The request model is this endpoint's mapper: it refuses (400) what no order could match (an order id
that is not a store id, a quantity that is no number, text a run's input cannot carry), so the rules in
`starter.returns` (whole units among them: 422, as for the CLI) only ever see well-formed requests.
"""
import hmac
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from adapters.errors import AdapterError
from adapters.json_values import is_text
from canonical.returns import ReturnLine
from config import Settings
from starter.http import BodyTooLarge, BodyTooSlow, read_body, refuse
from starter.returns import ReturnRefused, authorise_return

MAX_UNITS = 1_000_000
"""More units than any parcel holds; also keeps the refund arithmetic far from overflow."""


def _unicode(value: str) -> str:
    if not is_text(value):
        raise ValueError("not valid Unicode text (lone surrogate)")
    return value


Text = Annotated[str, AfterValidator(_unicode)]


class ReturnLineAsked(BaseModel):
    sku: Annotated[Text, Field(min_length=1, max_length=255)]
    quantity: Annotated[Decimal, Field(le=MAX_UNITS, ge=-MAX_UNITS)]
    reason: Annotated[Text, Field(max_length=1_000)] = ""


class ReturnAsked(BaseModel):
    store_id: Annotated[Text, Field(min_length=1, max_length=100)]
    order_id: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,18}$")]
    """The store's order id, digits only: it goes into the store's URL and the run ids."""
    lines: Annotated[list[ReturnLineAsked], Field(max_length=100)]

    def return_lines(self) -> list[ReturnLine]:
        return [ReturnLine(sku=line.sku, quantity=line.quantity, reason=line.reason) for line in self.lines]


def returns_handler(settings: Settings, client: Callable[[], Client]):
    token = settings.starter.returns_api_token.get_secret_value()
    limit = settings.starter.max_body_bytes

    async def create_return(request: Request) -> JSONResponse:
        if not token:
            return refuse(404, "the returns endpoint is not configured")
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return refuse(401, "invalid or missing bearer token")
        try:
            asked = ReturnAsked.model_validate_json(
                await read_body(request, limit, settings.starter.body_read_timeout_s)
            )
        except BodyTooLarge:
            return refuse(413, f"body larger than {limit} bytes")
        except BodyTooSlow as slow:
            return slow.response()
        except ValidationError as err:
            return refuse(400, f"malformed return request: {_problems(err)}")
        try:
            authorised = await authorise_return(
                client(), settings, asked.store_id, asked.order_id, asked.return_lines()
            )
        except ReturnRefused as refused:
            return refuse(422, str(refused))
        except AdapterError as err:
            return _store_refusal(asked, err)
        except (RPCError, WorkflowQueryFailedError) as err:
            return refuse(503, f"could not read the order's runs in Temporal, try again: {err}")
        return JSONResponse({"rma": authorised.rma, "workflow_id": authorised.workflow_id,
                             "needs_approval": authorised.needs_approval}, status_code=201)  # fmt: skip

    return create_return


def _store_refusal(asked: ReturnAsked, err: AdapterError) -> JSONResponse:
    """The store not knowing the order is the caller's mistake (4xx); the store being down is not (502)."""
    if err.retryable:
        return refuse(502, f"could not check the order: {err}")
    if err.status in (404, 410):
        return refuse(404, f"store {asked.store_id} has no order {asked.order_id}")
    return refuse(422, f"the store refused to show order {asked.order_id}: {err.message}")


def _problems(err: ValidationError) -> str:
    """Where and what, without echoing the (possibly huge) input back."""
    return "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or 'body'}: {problem['msg']}" for problem in err.errors()[:10]
    )
