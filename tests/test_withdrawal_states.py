"""The withdrawal state machine (``payouts.state``): the table covers every status and an
illegal move is refused with a typed error and changes nothing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from huafei.payouts.errors import InvalidTransition
from huafei.payouts.models import Withdrawal, WithdrawalStatus
from huafei.payouts.state import INITIAL_STATUSES, TRANSITIONS, transition

CREATED = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def _withdrawal(status: WithdrawalStatus) -> Withdrawal:
    return Withdrawal(id=7, status=status.value, updated_at=CREATED, completed_at=None)


def test_the_table_has_a_row_for_every_status_and_only_statuses() -> None:
    assert set(TRANSITIONS) == set(WithdrawalStatus)
    assert all(to <= set(WithdrawalStatus) for to in TRANSITIONS.values())


def test_final_statuses_and_only_they_have_no_way_out() -> None:
    for status, exits in TRANSITIONS.items():
        assert (not exits) == status.final, status


def test_every_status_is_reachable_from_a_new_withdrawal() -> None:
    reached = set(INITIAL_STATUSES)
    frontier = list(INITIAL_STATUSES)
    while frontier:
        for following in TRANSITIONS[frontier.pop()] - reached:
            reached.add(following)
            frontier.append(following)
    assert reached == set(WithdrawalStatus)


@pytest.mark.parametrize(
    ("current", "to"),
    [
        (current, to)
        for current, to in itertools.product(WithdrawalStatus, repeat=2)
        if to not in TRANSITIONS[current]
    ],
)
def test_an_illegal_transition_is_refused_and_changes_nothing(
    current: WithdrawalStatus, to: WithdrawalStatus
) -> None:
    withdrawal = _withdrawal(current)
    with pytest.raises(InvalidTransition) as refused:
        transition(withdrawal, to, NOW)
    assert refused.value.code == "withdrawal_invalid_transition"
    assert refused.value.status == 409
    assert (withdrawal.status, withdrawal.updated_at) == (current.value, CREATED)
    assert withdrawal.completed_at is None


@pytest.mark.parametrize(
    ("current", "to"),
    [(current, to) for current, exits in TRANSITIONS.items() for to in sorted(exits)],
)
def test_an_allowed_transition_moves_and_a_final_one_completes(
    current: WithdrawalStatus, to: WithdrawalStatus
) -> None:
    withdrawal = _withdrawal(current)
    transition(withdrawal, to, NOW)
    assert (withdrawal.state, withdrawal.updated_at) == (to, NOW)
    assert withdrawal.completed_at == (NOW if to.final else None)
