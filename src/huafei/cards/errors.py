"""Typed card errors; each code is stable and documented in docs/sandboxes.md and the API."""

from __future__ import annotations

from huafei.core.errors import ValidationFailed


class CardsError(ValidationFailed):
    code = "cards_error"
    title = "The card was refused"


class CardFormatInvalid(CardsError):
    code = "card_format_invalid"
    title = "The card's serial or PIN does not match the carrier's format"


class EmptyBatch(CardsError):
    code = "empty_batch"
    title = "The batch holds no card"
