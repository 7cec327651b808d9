"""One request context for every route: the platform's pieces, the request's time and a unit of
work.

The composition root binds a ``Platform`` to the application once (``bind_platform``). A route
takes a ``Context`` as a dependency — ``identity.deps`` adds the caller (``SellerContext``,
``StaffContext``…) — and never looks the platform up itself::

    @router.get("/orders/{order_id}")
    def read_order(order_id: Id, ctx: SellerContext) -> OrderOut:
        return ctx.run(lambda s: order_out(s, service.get_order(s, order_id, ...)))

What only some domains need (the SMS sender, the payout rails, the carrier channels) is a
``Provided`` piece: the domain declares it next to its routes, the composition root gives it a
value, and a route asks for it by type — so a domain states what it uses and imports no
composition code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Generic, Self, TypeVar, cast, overload

from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session

from huafei.core.clock import Clock
from huafei.core.crypto import Keyring
from huafei.core.db import Database
from huafei.core.ratelimit import RateLimiter
from huafei.core.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Platform:
    """What every route may use, bound once by the composition root."""

    settings: Settings
    db: Database
    clock: Clock
    #: secrets at rest (card PINs, ID numbers, service passwords)
    keyring: Keyring
    #: hourly caps (SMS codes, failed sign-ins)
    rate_limiter: RateLimiter


def bind_platform(app: FastAPI, platform: Platform) -> None:
    app.state.platform = platform
    app.state.pieces = {}


def platform_of(request: Request) -> Platform:
    return cast("Platform", request.app.state.platform)


class _FromPlatform(Generic[T]):
    """A context's attribute that is the platform's piece of the same name."""

    __slots__ = ("name",)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, ctx: None, owner: type) -> Self: ...
    @overload
    def __get__(self, ctx: Context, owner: type) -> T: ...
    def __get__(self, ctx: Context | None, owner: type) -> T | Self:
        return self if ctx is None else cast("T", getattr(ctx.platform, self.name))


@dataclass(slots=True, eq=False)
class Context:
    """A request's view of the platform: its pieces, ``now`` and ``run(work)``."""

    request: Request
    platform: Platform
    _now: datetime | None = field(default=None, init=False)

    settings = _FromPlatform[Settings]()
    db = _FromPlatform[Database]()
    clock = _FromPlatform[Clock]()
    keyring = _FromPlatform[Keyring]()
    rate_limiter = _FromPlatform[RateLimiter]()

    @property
    def now(self) -> datetime:
        """The request's time: read from the clock at first use, the same afterwards."""
        if self._now is None:
            self._now = self.platform.clock.now()
        return self._now

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` as one unit of work (committed, retried on a transient failure)."""
        return self.platform.db.run(work)

    @property
    def client_ip(self) -> str:
        client = self.request.client
        return client.host if client else ""


# The dependencies that only build a small object are ``async``: FastAPI awaits them on the event
# loop, where a plain function would cost a trip to the thread pool per request.
async def request_context(request: Request) -> Context:
    """The dependency of routes open to anyone."""
    return Context(request, platform_of(request))


AnyContext = Annotated[Context, Depends(request_context)]


class Provided(Generic[T]):
    """A piece of the platform that some routes need and the composition root provides (an
    adapter, a domain's configuration). Declared by the domain as a module constant::

        SMS: Provided[SmsSender] = Provided("sms")
        Sms = Annotated[SmsSender, Depends(SMS.of)]

    and bound once by the composition root (``SMS.provide(app, container.sms)``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def provide(self, app: FastAPI, value: T) -> None:
        app.state.pieces[self.name] = value

    async def of(self, request: Request) -> T:
        """The bound value (a FastAPI dependency)."""
        return cast("T", request.app.state.pieces[self.name])

    def __repr__(self) -> str:
        return f"Provided({self.name!r})"
