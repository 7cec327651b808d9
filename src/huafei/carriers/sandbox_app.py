"""The carrier sandboxes as HTTP services: one FastAPI application per carrier.

Each is mounted at ``/sandbox/carriers/{carrier}`` in the platform's app (when
``HUAFEI_SANDBOXES`` is true) or served on its own by ``huafei sandbox serve``. Channel endpoints
(signed like callbacks, answering in the channel's own JSON, not problem documents):

* ``POST /consumptions`` — submit a card; ``{"accepted", "channel_ref", "reason"}``
* ``POST /consumptions/query`` — a consumption's state in the callback's wire format
* ``POST /service-password/check`` — ``{"matches": bool}``
* ``POST /balance/query`` — a number's balance: ``{"ok": true, "balance_fen"}``
* ``POST /balance/transfers`` — 话费转赠, idempotent on ``transfer_id``: the transfer document
* ``POST /topups`` — 直充, idempotent on ``topup_id``: the top-up document
* ``POST /topups/query`` — the top-up made under a ``topup_id`` (its document), or the refusal
  ``not_found``
* ``POST /balance/transfers/query`` — a transfer by ``transfer_id``: ``{"ok", "found", …}``
* ``POST /balance/codes`` — text a verification code to a number (with its service password)
* ``POST /balance/codes/verify`` — confirm a texted code: ``{"ok": true}``

The balance endpoints answer a refusal with HTTP 200 ``{"ok": false, "reason", "message"}``.

Test control (unsigned; a sandbox only): ``GET|PUT /control/switches``, ``POST /control/reset``
(also restores the balances), ``POST /control/cards`` (issue cards), ``GET /control/deliveries``
(callback attempts), ``GET /control/consumptions`` (every consumption it holds a record of),
``GET /control/balances`` (every balance the channel holds), ``GET /control/codes`` (the
verification codes the carrier texted, newest first: the phone's inbox),
``GET /control/receiving-numbers`` (the platform's numbers at this carrier, with balances).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huafei.carriers.gateway import REFUSALS, Carrier, ChannelRefused, UnknownRequest
from huafei.carriers.sandbox import REFUSAL_MESSAGES, CarrierSandbox
from huafei.carriers.sandbox_cards import CardIssueError, SandboxCardKind
from huafei.carriers.sandbox_numbers import RECEIVING_NUMBERS
from huafei.carriers.sandbox_records import SandboxSwitches
from huafei.carriers.wire import (
    BALANCE_QUERY_PATH,
    CODE_SEND_PATH,
    CODE_VERIFY_PATH,
    PASSWORD_PATH,
    QUERY_PATH,
    SUBMIT_PATH,
    TOPUP_PATH,
    TOPUP_QUERY_PATH,
    TRANSFER_PATH,
    TRANSFER_QUERY_PATH,
    encode_code_sent,
    encode_refusal,
    encode_topup,
    encode_transfer,
    encode_transfer_query,
)
from huafei.core.clock import Clock, SystemClock
from huafei.core.settings import Settings

SANDBOX_PREFIX = "/sandbox/carriers"
M = TypeVar("M", bound=BaseModel)
_MAX_BODY = 64 * 1024


class _SubmitBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    consumption_id: str = Field(min_length=1, max_length=64)
    face_value_fen: int = Field(gt=0)
    serial: str = Field(min_length=1, max_length=64)
    pin: str = Field(min_length=1, max_length=64, repr=False)
    callback_url: str = Field(pattern=r"^https?://", max_length=500)


class _QueryBody(BaseModel):
    consumption_id: str = Field(min_length=1, max_length=64)


class _PasswordBody(BaseModel):
    phone: str = Field(min_length=1, max_length=20)
    password: str = Field(min_length=1, max_length=32, repr=False)


class _BalanceQueryBody(BaseModel):
    phone: str = Field(min_length=1, max_length=20)
    service_password: str = Field(min_length=1, max_length=32, repr=False)


class _TransferBody(BaseModel):
    transfer_id: str = Field(min_length=1, max_length=64)
    from_phone: str = Field(min_length=1, max_length=20)
    to_phone: str = Field(min_length=1, max_length=20)
    amount_fen: int = Field(strict=True)
    """Strict: fen are integers on the wire, never ``10.0`` or ``"10"``; the sign is the
    channel's to refuse (``invalid_amount``)."""
    service_password: str = Field(min_length=1, max_length=32, repr=False)


class _TopUpBody(BaseModel):
    topup_id: str = Field(min_length=1, max_length=64)
    phone: str = Field(min_length=1, max_length=20)
    amount_fen: int = Field(strict=True)


class _TopUpQueryBody(BaseModel):
    topup_id: str = Field(min_length=1, max_length=64)


class _TransferQueryBody(BaseModel):
    transfer_id: str = Field(min_length=1, max_length=64)


class _CodeBody(BaseModel):
    request_id: str = Field(min_length=1, max_length=64)
    phone: str = Field(min_length=1, max_length=20)
    service_password: str = Field(min_length=1, max_length=32, repr=False)


class _VerifyBody(BaseModel):
    request_id: str = Field(min_length=1, max_length=64)
    phone: str = Field(min_length=1, max_length=20)
    code: str = Field(min_length=1, max_length=16, repr=False)


class _IssueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    face_value_fen: int
    count: int = Field(default=1, ge=1, le=1000)
    kind: SandboxCardKind = SandboxCardKind.GOOD
    actual_face_value_fen: int | None = None
    start: int = Field(default=1, ge=0)


class _ResetBody(BaseModel):
    forget_cards: bool = False
    forget_consumptions: bool = False


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _invalid(exc: ValidationError) -> JSONResponse:
    # Field names only: echoing the input could put a PIN into a response or a log.
    fields = sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
    return _error(400, "invalid_request", "invalid fields: " + ", ".join(fields))


def create_carrier_sandbox_app(sandbox: CarrierSandbox) -> FastAPI:
    """The HTTP face of one carrier's sandbox."""
    app = FastAPI(
        title=f"{sandbox.carrier.value} channel sandbox",
        description="A carrier channel's sandbox for development and tests.",
    )
    app.state.sandbox = sandbox
    _add_channel_routes(app, sandbox)
    _add_balance_routes(app, sandbox)
    _add_topup_routes(app, sandbox)
    _add_switch_routes(app, sandbox)
    _add_record_routes(app, sandbox)
    return app


async def _read_signed(
    sandbox: CarrierSandbox, request: Request, model: type[M]
) -> M | JSONResponse:
    switches = sandbox.switches
    if switches.fail_status is not None:
        return _error(switches.fail_status, "channel_unavailable", "channel unavailable")
    body = await request.body()
    if len(body) > _MAX_BODY:
        return _error(413, "too_large", "request too large")
    if not sandbox.verify_request(dict(request.headers), body):
        return _error(401, "bad_signature", "signature or timestamp not valid")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        return _invalid(exc)


async def _signed_call(
    sandbox: CarrierSandbox,
    request: Request,
    model: type[M],
    call: Callable[[M], dict[str, Any]],
    *,
    losable: bool = False,
) -> Response:
    """A channel request: verified and parsed, ``call`` answers it (late when the switches say
    so); a refused balance operation is answered ``{"ok": false, …}``. A ``losable`` operation
    that was carried out is answered 504 while ``lose_transfer_answers`` is on."""
    parsed = await _read_signed(sandbox, request, model)
    if isinstance(parsed, JSONResponse):
        return parsed
    try:
        document = call(parsed)
    except ChannelRefused as exc:
        document = encode_refusal(exc, REFUSAL_MESSAGES.get(exc.reason, exc.title))
    delay = sandbox.switches.slow_response_ms
    if delay:
        await asyncio.sleep(delay / 1000)
    if losable and document.get("ok") and sandbox.switches.lose_transfer_answers:
        return _error(504, "answer_lost", "the answer was lost on the way")
    return JSONResponse(document)


def _add_channel_routes(app: FastAPI, sandbox: CarrierSandbox) -> None:
    @app.post(SUBMIT_PATH, summary="Submit a card for consumption (answers at once)")
    async def submit(request: Request) -> Response:
        def call(body: _SubmitBody) -> dict[str, Any]:
            return sandbox.submit(
                consumption_id=body.consumption_id,
                face_value_fen=body.face_value_fen,
                serial=body.serial,
                pin=body.pin,
                callback_url=body.callback_url,
            )

        return await _signed_call(sandbox, request, _SubmitBody, call)

    @app.post(QUERY_PATH, summary="A consumption's state")
    async def query(request: Request) -> Response:
        return await _signed_call(
            sandbox, request, _QueryBody, lambda body: sandbox.query(body.consumption_id)
        )

    @app.post(PASSWORD_PATH, summary="Check a number's service password (服务密码)")
    async def check_password(request: Request) -> Response:
        def call(body: _PasswordBody) -> dict[str, Any]:
            return {"matches": sandbox.book.check_service_password(body.phone, body.password)}

        return await _signed_call(sandbox, request, _PasswordBody, call)


def _add_balance_routes(app: FastAPI, sandbox: CarrierSandbox) -> None:
    @app.post(
        BALANCE_QUERY_PATH, summary="A number's balance (话费余额), with its service password"
    )
    async def query_balance(request: Request) -> Response:
        def call(body: _BalanceQueryBody) -> dict[str, Any]:
            balance = sandbox.book.query_balance(body.phone, body.service_password)
            return {"ok": True, "balance_fen": balance}

        return await _signed_call(sandbox, request, _BalanceQueryBody, call)

    @app.post(TRANSFER_PATH, summary="Transfer balance to another number (话费转赠)")
    async def transfer(request: Request) -> Response:
        def call(body: _TransferBody) -> dict[str, Any]:
            result = sandbox.book.transfer(
                transfer_id=body.transfer_id,
                from_phone=body.from_phone,
                to_phone=body.to_phone,
                amount_fen=body.amount_fen,
                service_password=body.service_password,
            )
            return encode_transfer(result)

        return await _signed_call(sandbox, request, _TransferBody, call, losable=True)

    @app.post(TRANSFER_QUERY_PATH, summary="A transfer by the caller's transfer id")
    async def query_transfer(request: Request) -> Response:
        def call(body: _TransferQueryBody) -> dict[str, Any]:
            found = sandbox.book.query_transfer(body.transfer_id)
            return encode_transfer_query(found, body.transfer_id)

        return await _signed_call(sandbox, request, _TransferQueryBody, call)

    _add_code_routes(app, sandbox)


def _add_code_routes(app: FastAPI, sandbox: CarrierSandbox) -> None:
    @app.post(CODE_SEND_PATH, summary="Text a verification code to a number (短信验证码)")
    async def send_code(request: Request) -> Response:
        def call(body: _CodeBody) -> dict[str, Any]:
            sent = sandbox.book.send_code(
                request_id=body.request_id,
                phone=body.phone,
                service_password=body.service_password,
            )
            return encode_code_sent(sent)

        return await _signed_call(sandbox, request, _CodeBody, call)

    @app.post(CODE_VERIFY_PATH, summary="Confirm a texted verification code")
    async def verify_code(request: Request) -> Response:
        def call(body: _VerifyBody) -> dict[str, Any]:
            sandbox.book.verify_code(request_id=body.request_id, phone=body.phone, code=body.code)
            return {"ok": True}

        return await _signed_call(sandbox, request, _VerifyBody, call)


def _add_topup_routes(app: FastAPI, sandbox: CarrierSandbox) -> None:
    @app.post(TOPUP_PATH, summary="Top up a number (直充)")
    async def topup(request: Request) -> Response:
        def call(body: _TopUpBody) -> dict[str, Any]:
            refusal = sandbox.switches.topup_refusal
            if refusal is not None:
                raise REFUSALS[refusal]
            result = sandbox.book.topup(
                topup_id=body.topup_id, phone=body.phone, amount_fen=body.amount_fen
            )
            return encode_topup(result)

        return await _signed_call(sandbox, request, _TopUpBody, call)

    @app.post(TOPUP_QUERY_PATH, summary="The top-up made under an id (直充查询)")
    async def query_topup(request: Request) -> Response:
        def call(body: _TopUpQueryBody) -> dict[str, Any]:
            result = sandbox.book.query_topup(body.topup_id)
            if result is None:
                raise UnknownRequest
            return encode_topup(result)

        return await _signed_call(sandbox, request, _TopUpQueryBody, call)


def _add_switch_routes(app: FastAPI, sandbox: CarrierSandbox) -> None:
    @app.get("/control/switches", summary="The switches in force")
    def get_switches() -> dict[str, Any]:
        return sandbox.switches.model_dump()

    @app.put("/control/switches", summary="Change some switches (a partial document)")
    async def put_switches(request: Request) -> Response:
        try:
            changes = json.loads(await request.body() or b"{}")
        except ValueError:
            return _error(400, "invalid_request", "the body is not JSON")
        if not isinstance(changes, dict):
            return _error(400, "invalid_request", "the body is not a JSON object")
        try:
            switches = sandbox.set_switches(**changes)
        except ValidationError as exc:
            return _invalid(exc)
        return JSONResponse(switches.model_dump())

    @app.post(
        "/control/reset", summary="Initial switches and balances; forget callbacks (and cards)"
    )
    async def reset(request: Request) -> Response:
        try:
            body = _ResetBody.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            return _invalid(exc)
        switches = sandbox.reset(
            forget_cards=body.forget_cards, forget_consumptions=body.forget_consumptions
        )
        return JSONResponse(switches.model_dump())


def _add_record_routes(app: FastAPI, sandbox: CarrierSandbox) -> None:
    @app.post("/control/cards", summary="Issue test cards the sandbox honours")
    async def issue(request: Request) -> Response:
        try:
            body = _IssueBody.model_validate_json(await request.body() or b"{}")
            cards = sandbox.issue_cards(
                body.face_value_fen,
                body.count,
                kind=body.kind,
                actual_face_value_fen=body.actual_face_value_fen,
                start=body.start,
            )
        except ValidationError as exc:
            return _invalid(exc)
        except CardIssueError as exc:
            return _error(400, "cannot_issue", str(exc))
        return JSONResponse([{**asdict(card), "pin": card.pin} for card in cards])

    @app.get("/control/deliveries", summary="Every callback delivery attempt so far")
    def deliveries() -> list[dict[str, Any]]:
        return [asdict(record) for record in sandbox.deliveries]

    @app.get(
        "/control/consumptions",
        summary="Every consumption the channel holds a record of (ids, references, outcomes)",
    )
    def consumptions() -> list[dict[str, Any]]:
        return sandbox.consumptions

    @app.get("/control/balances", summary="Every balance the channel holds, in fen, by number")
    def balances() -> dict[str, int]:
        return sandbox.book.balances

    @app.get(
        "/control/receiving-numbers",
        summary="The platform's receiving numbers at this carrier and their balances, in fen",
    )
    def receiving_numbers() -> dict[str, int]:
        held = sandbox.book.balances
        return {phone: held.get(phone, 0) for phone in RECEIVING_NUMBERS[sandbox.carrier]}

    @app.get(
        "/control/codes",
        summary="The verification codes the carrier texted, newest first (the phone's inbox)",
    )
    def codes(phone: str | None = None) -> list[dict[str, Any]]:
        return [c for c in sandbox.book.outbox if phone is None or c["phone"] == phone]


def build_carrier_sandboxes(settings: Settings, clock: Clock) -> dict[Carrier, CarrierSandbox]:
    """One sandbox per carrier, sharing the platform's secrets for that carrier."""
    switches = SandboxSwitches(callback_delay_ms=settings.sandbox_callback_delay_ms)
    state_path = Path(settings.sandbox_state_path) if settings.sandbox_state_path else None
    return {
        carrier: CarrierSandbox(
            carrier,
            secret=settings.carrier_secret(carrier.value),
            card_secret=settings.sandbox_card_secret.get_secret_value(),
            clock=clock,
            switches=switches,
            state_path=state_path,
        )
        for carrier in Carrier
    }


def mount_carrier_sandboxes(app: FastAPI, sandboxes: dict[Carrier, CarrierSandbox]) -> None:
    """Mount each sandbox at ``/sandbox/carriers/{carrier}``."""
    for carrier, sandbox in sandboxes.items():
        app.mount(f"{SANDBOX_PREFIX}/{carrier.value}", create_carrier_sandbox_app(sandbox))


def close_all(sandboxes: dict[Carrier, CarrierSandbox]) -> Callable[[], None]:
    def close() -> None:
        for sandbox in sandboxes.values():
            sandbox.close()

    return close


def create_standalone_sandbox_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    """The three carrier sandboxes in one app of their own (``huafei sandbox serve``)."""
    sandboxes = build_carrier_sandboxes(settings, clock or SystemClock())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        close_all(sandboxes)()

    app = FastAPI(title="Huafei carrier sandboxes", lifespan=lifespan)
    app.state.carrier_sandboxes = sandboxes

    @app.get("/healthz", summary="The sandboxes are up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    mount_carrier_sandboxes(app, sandboxes)
    return app
