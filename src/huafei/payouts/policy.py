"""Fees and limits per profile and payout method, kept as data (``data/policy.json``).

A fee is ``fixed + clamp(amount × rate, min, max)``, the rate part rounded down to the fen (in
the payer's favour). It is charged on top of the amount: the payout account receives the amount,
the wallet pays amount + fee.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from functools import cache
from importlib import resources
from typing import Any

from huafei.core.money import Money, Rate
from huafei.payouts.models import MethodKind


@dataclass(frozen=True, slots=True)
class FeeRule:
    fixed_fen: int
    rate: Decimal
    min_fen: int
    max_fen: int | None

    def fee(self, amount_fen: int) -> int:
        variable = int((Decimal(amount_fen) * self.rate).to_integral_value(rounding=ROUND_FLOOR))
        variable = max(variable, self.min_fen)
        if self.max_fen is not None:
            variable = min(variable, self.max_fen)
        return self.fixed_fen + variable

    def describe(self) -> str:
        parts = []
        if self.fixed_fen:
            parts.append(Money(self.fixed_fen).format())
        if self.rate:
            text = Rate(self.rate).as_percent()
            if self.min_fen:
                text += f" (min {Money(self.min_fen).format()}"
                text += f", max {Money(self.max_fen).format()})" if self.max_fen else ")"
            parts.append(text)
        return " + ".join(parts) or "free"


@dataclass(frozen=True, slots=True)
class Limits:
    min_fen: int
    max_single_fen: int
    max_daily_fen: int
    max_daily_count: int


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    limits: Limits
    fees: dict[MethodKind, FeeRule]


@dataclass(frozen=True, slots=True)
class PayoutPolicy:
    source: str
    currency: str
    owner_profiles: dict[str, str]
    profiles: dict[str, Profile]

    def profile_for(self, owner_ref: str) -> Profile:
        """The profile of an owner by its kind (``seller:42`` → personal)."""
        kind = owner_ref.partition(":")[0]
        return self.profiles[self.owner_profiles.get(kind, "personal")]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PayoutPolicy:
        profiles = {}
        for name, spec in data["profiles"].items():
            fees = {
                MethodKind(kind): FeeRule(
                    fixed_fen=int(rule["fixed_fen"]),
                    rate=Decimal(str(rule["rate"])),
                    min_fen=int(rule["min_fen"]),
                    max_fen=None if rule["max_fen"] is None else int(rule["max_fen"]),
                )
                for kind, rule in spec["fees"].items()
            }
            profiles[name] = Profile(name, Limits(**spec["limits"]), fees)
        return cls(data["source"], data["currency"], dict(data["owner_profiles"]), profiles)


@cache
def default_policy() -> PayoutPolicy:
    text = resources.files("huafei.payouts").joinpath("data", "policy.json").read_text("utf-8")
    return PayoutPolicy.from_dict(json.loads(text))
