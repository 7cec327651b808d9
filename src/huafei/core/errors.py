"""The root of every expected failure; the web layer renders them as RFC 9457 problems."""

from __future__ import annotations

from typing import Any, ClassVar


class HuafeiError(Exception):
    """An expected business outcome with a stable machine-readable code.

    Subclasses set ``code``, ``status`` and ``title``; instances carry a human ``detail`` and
    optional ``extra`` fields that are added to the problem document.
    """

    code: ClassVar[str] = "huafei_error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request failed"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": f"/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            problem["instance"] = instance
        problem.update(self.extra)
        return problem


class ValidationFailed(HuafeiError):
    code = "validation_failed"
    status = 422
    title = "The request is not valid"


class NotFound(HuafeiError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(HuafeiError):
    code = "conflict"
    status = 409
    title = "Conflict"
