"""Tryton's JSON-RPC, spoken the way the Tryton clients speak it, with typed errors.

One session per client (`common.db.login`, then `Authorization: Session ...`), the user's
preferences as the base context of every call, and one re-login when the server forgets
the session. Tryton's special JSON values (Decimal, date, datetime) round-trip exactly.
"""
import asyncio
import base64
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from adapters.deadlines import time_left
from adapters.errors import AdapterError, BusinessError, NonRetryableError, NotReadyYet, RetryableError

SYSTEM = "tryton"
NOT_READY = "RetailSyncNotReady"
"""The error kind our Tryton module sends for "not yet" (`adapters/tryton_module/common.py`, `NotReady`)."""


class TrytonUserError(BusinessError):
    """Tryton refused the data (validation, constraint, workflow): `message` is its readable text.

    For a warning, `warning` is the key a user acknowledges (`res.user.warning.skip`) before retrying.
    """

    def __init__(self, system: str, message: str, *, warning: str | None = None, **kw) -> None:
        super().__init__(system, message, **kw)
        self.warning = warning


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} to Tryton")


def _decode(obj: dict) -> Any:
    match obj.get("__class__"):
        case "Decimal":
            return Decimal(obj["decimal"])
        case "date":
            return dt.date(obj["year"], obj["month"], obj["day"])
        case "datetime":
            return dt.datetime(
                obj["year"], obj["month"], obj["day"], obj["hour"], obj["minute"], obj["second"], obj["microsecond"]
            )
        case "timedelta":
            return dt.timedelta(seconds=obj["seconds"])
        case "bytes":
            return base64.b64decode(obj["base64"])
    return obj


def _rpc_error(method: str, error: Any) -> AdapterError:
    """Map a JSON-RPC error payload; the domain Tryton attaches to a UserError (kilobytes) is dropped."""
    kind, args = (error[0], error[1]) if isinstance(error, list) and len(error) == 2 else (str(error), None)
    if kind == NOT_READY:
        return NotReadyYet(SYSTEM, args[0], code=kind)
    if kind == "UserError":
        message, description = args[0], args[1]
        return TrytonUserError(SYSTEM, f"{message} {description}".strip(), code=kind)
    if kind == "UserWarning":
        return TrytonUserError(SYSTEM, f"{args[1]} {args[2]}".strip(), code=kind, warning=args[0])
    if kind == "ConcurrencyException":
        return RetryableError(SYSTEM, f"{method}: {args}", code=kind)
    if "database is locked" in kind:
        return RetryableError(SYSTEM, f"{method}: database is locked", code="database-locked")
    return NonRetryableError(SYSTEM, f"{method}: {kind}", code="server-error")


class Killed(BaseException):
    """The caller died at a fault point (a worker killed): nothing after it runs, no later call is made."""


@dataclass
class Fault:
    """One call going wrong, for tests: the `nth` call of the client (1-based, logins not counted) or the first
    call of `method` (e.g. "model.sale.sale.confirm"), `before` it reaches Tryton or `after` Tryton did it.

    `effect`: "fail" drops the connection (the caller sees a RetryableError; after: a lost response),
    "kill" kills the caller (`Killed`, and every later call too), or a function run at that point
    (stop the server, race another call), after which the call goes on.
    """

    when: Literal["before", "after"]
    nth: int | None = None
    method: str | None = None
    effect: Literal["fail", "kill"] | Callable[[], Any] = "fail"


class FaultPoint:
    """A test hook between the calls of a client: records every call and applies the faults it was given."""

    def __init__(self, *faults: Fault) -> None:
        self.faults = list(faults)
        self.calls: list[str] = []
        self.killed = False

    async def before(self, method: str) -> None:
        if self.killed:
            raise Killed(method)
        self.calls.append(method)
        await self._apply("before", method)

    async def after(self, method: str) -> None:
        await self._apply("after", method)

    async def _apply(self, when: str, method: str) -> None:
        for fault in self.faults:
            if fault.when == when and (fault.nth == len(self.calls) or fault.method == method):
                self.faults.remove(fault)
                if fault.effect == "kill":
                    self.killed = True
                    raise Killed(method)
                if fault.effect == "fail":
                    lost = "response lost" if when == "after" else "connection dropped"
                    raise RetryableError(SYSTEM, f"{method}: {lost} (fault point)")
                if asyncio.iscoroutine(outcome := fault.effect()):
                    await outcome
                return


class TrytonRpc:
    """An authenticated JSON-RPC session with one Tryton database."""

    def __init__(
        self,
        url: str,
        database: str,
        user: str,
        password: SecretStr,
        *,
        timeout: float = 60.0,
        fault_point: FaultPoint | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=url.rstrip("/"))
        self._timeout = timeout
        self._path = f"/{database}/rpc/"
        self._user = user
        self._password = password
        self._context: dict | None = None
        self._login_lock = asyncio.Lock()
        self._request_id = 0
        self._faults = fault_point

    async def call(self, model: str, method: str, *args: Any, context: dict | None = None) -> Any:
        """Call `model.<model>.<method>(*args)` with the session context (plus `context`)."""
        return await self._authenticated(f"model.{model}.{method}", args, context)

    async def run_wizard(self, name: str, state: str, data: dict, *, model: str, ids: list[int]) -> Any:
        """Run one state of wizard `name` on records `ids` of `model` (create, execute, delete)."""
        context = {"active_model": model, "active_id": ids[0], "active_ids": ids}
        session, _, _ = await self._authenticated(f"wizard.{name}.create", (), context)
        try:
            return await self._authenticated(f"wizard.{name}.execute", (session, data, state), context)
        finally:
            await self._authenticated(f"wizard.{name}.delete", (session,), context)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _authenticated(self, method: str, args: tuple, context: dict | None) -> Any:
        """One call; a 401 means the server forgot the session, so log in again and retry once."""
        authorization = await self._session()
        if self._faults:
            await self._faults.before(method)
        try:
            result = await self._post(method, [*args, {**self._context, **(context or {})}])
        except _SessionExpired:
            await self._session(expired=authorization)
            try:
                result = await self._post(method, [*args, {**self._context, **(context or {})}])
            except _SessionExpired:
                raise NonRetryableError(SYSTEM, f"{method}: session refused right after login", status=401) from None
        if self._faults:
            await self._faults.after(method)
        return result

    async def _session(self, expired: str | None = None) -> str:
        """The current Authorization header; logs in first if there is none or it is `expired`."""
        async with self._login_lock:
            if self._context is None or self._http.headers.get("Authorization") == expired:
                await self._login()
            return self._http.headers["Authorization"]

    async def _login(self) -> None:
        self._http.headers.pop("Authorization", None)
        self._context = None
        params = [self._user, {"password": self._password.get_secret_value()}, "en"]
        try:
            user_id, key, _ = await self._post("common.db.login", params)
        except _SessionExpired:
            raise NonRetryableError(SYSTEM, f"login refused for user {self._user!r}", status=401) from None
        token = base64.b64encode(f"{self._user}:{user_id}:{key}".encode()).decode()
        self._http.headers["Authorization"] = f"Session {token}"
        self._context = await self._post("model.res.user.get_preferences", [True, {}])

    async def _post(self, method: str, params: list) -> Any:
        """One request, given no more time than the caller has left (`adapters.deadlines`)."""
        self._request_id += 1
        body = json.dumps({"id": self._request_id, "method": method, "params": params}, default=_encode)
        timeout = time_left(self._timeout)
        if timeout <= 0:
            raise RetryableError(SYSTEM, f"{method}: not sent, the caller's time is up")
        try:
            response = await self._http.post(
                self._path, content=body, headers={"Content-Type": "application/json"}, timeout=timeout
            )
        except httpx.TransportError as exc:
            raise RetryableError(SYSTEM, f"{method}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 401:
            raise _SessionExpired
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            raise RetryableError(
                SYSTEM,
                f"{method}: HTTP {response.status_code}",
                status=response.status_code,
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if response.status_code != 200:
            raise NonRetryableError(SYSTEM, f"{method}: HTTP {response.status_code}", status=response.status_code)
        payload = json.loads(response.content, object_hook=_decode)
        if "error" in payload:
            raise _rpc_error(method, payload["error"])
        return payload["result"]


class _SessionExpired(Exception):
    """HTTP 401: the session (or the login) was refused."""
