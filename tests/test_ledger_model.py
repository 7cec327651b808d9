"""Random operation sequences against a simple in-memory model, on every backend."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from factories import make_accounts
from huafei.core.clock import FrozenClock
from huafei.invariants import check_everything
from huafei.ledger import (
    NewTransfer,
    create_transfers,
    expire_pending_transfers,
    get_account,
)
from huafei.ledger.models import AccountType, TransferKind

NAMES = ["escrow", "w1", "w2", "held", "revenue"]


@dataclass
class ModelAccount:
    no_overdraft: bool
    dp: int = 0
    dpo: int = 0
    cp: int = 0
    cpo: int = 0


@dataclass
class ModelPending:
    debit: str
    credit: str
    amount: int
    deadline: int | None  # model seconds
    state: str = "pending"


def ledger_machine(database_url_value: str):
    from huafei.core.db import Database

    class LedgerMachine(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            self.db = Database(database_url_value)
            self.clock = FrozenClock()
            self.seconds = 0
            self.tag = self.clock.now().timestamp()
            ids = make_accounts(
                self.db,
                self.clock.now(),
                escrow={"type": AccountType.ASSET, "owner_ref": f"m{id(self)}:e"},
                w1={
                    "type": AccountType.LIABILITY,
                    "no_overdraft": True,
                    "owner_ref": f"m{id(self)}:1",
                },
                w2={
                    "type": AccountType.LIABILITY,
                    "no_overdraft": True,
                    "owner_ref": f"m{id(self)}:2",
                },
                held={
                    "type": AccountType.LIABILITY,
                    "no_overdraft": True,
                    "owner_ref": f"m{id(self)}:h",
                },
                revenue={"type": AccountType.REVENUE, "owner_ref": f"m{id(self)}:r"},
            )
            self.ids = ids
            self.model = {n: ModelAccount(no_overdraft=n in ("w1", "w2", "held")) for n in NAMES}
            self.pendings: dict[str, ModelPending] = {}
            self.counter = 0

        def teardown(self) -> None:
            self.db.dispose()

        def _id(self) -> str:
            self.counter += 1
            return f"m{id(self)}:{self.counter}"

        def _fits(self, name: str, extra: int) -> bool:
            a = self.model[name]
            return not a.no_overdraft or a.dp + a.dpo + extra <= a.cpo

        def _run(self, new: NewTransfer):
            (result,) = self.db.run(lambda s: create_transfers(s, [new], now=self.clock.now()))
            return result

        @rule(
            debit=st.sampled_from(NAMES),
            credit=st.sampled_from(NAMES),
            amount=st.integers(min_value=-5, max_value=500),
            pending=st.booleans(),
            timeout=st.sampled_from([None, 30, 120]),
        )
        def create(self, debit, credit, amount, pending, timeout) -> None:
            new = NewTransfer(
                self._id(),
                self.ids[debit],
                self.ids[credit],
                amount,
                kind=TransferKind.PENDING if pending else TransferKind.SINGLE,
                timeout_seconds=timeout if pending else None,
            )
            result = self._run(new)
            should = amount > 0 and debit != credit and self._fits(debit, amount)
            assert result.ok == should, (new, result.error)
            if not should:
                return
            d, c = self.model[debit], self.model[credit]
            if pending:
                d.dp += amount
                c.cp += amount
                deadline = self.seconds + timeout if timeout else None
                self.pendings[new.id] = ModelPending(debit, credit, amount, deadline)
            else:
                d.dpo += amount
                c.cpo += amount

        @rule(data=st.data(), action=st.sampled_from(["post", "void"]), part=st.integers(1, 100))
        def resolve(self, data, action, part) -> None:
            if not self.pendings:
                return
            pid = data.draw(st.sampled_from(sorted(self.pendings)))
            p = self.pendings[pid]
            amount = max(1, p.amount * part // 100) if action == "post" else None
            kind = TransferKind.POST_PENDING if action == "post" else TransferKind.VOID_PENDING
            result = self._run(NewTransfer(self._id(), amount=amount, kind=kind, pending_id=pid))
            expired = p.deadline is not None and self.seconds >= p.deadline
            should = p.state == "pending" and not expired
            assert result.ok == should, (pid, p, result.error)
            if not should:
                return
            d, c = self.model[p.debit], self.model[p.credit]
            d.dp -= p.amount
            c.cp -= p.amount
            if action == "post":
                d.dpo += amount
                c.cpo += amount
            p.state = action

        @rule(seconds=st.integers(1, 90))
        def wait_and_expire(self, seconds) -> None:
            self.seconds += seconds
            self.clock.advance(seconds=seconds)
            self.db.run(lambda s: expire_pending_transfers(s, now=self.clock.now()))
            for p in self.pendings.values():
                if p.state == "pending" and p.deadline is not None and self.seconds >= p.deadline:
                    p.state = "expired"
                    self.model[p.debit].dp -= p.amount
                    self.model[p.credit].cp -= p.amount

        @invariant()
        def balances_match_the_model(self) -> None:
            if not hasattr(self, "ids"):
                return

            def read(session):
                return {n: get_account(session, i) for n, i in self.ids.items()}

            actual = self.db.run(read)
            for name, m in self.model.items():
                a = actual[name]
                assert (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted) == (
                    m.dp,
                    m.dpo,
                    m.cp,
                    m.cpo,
                ), name

    return LedgerMachine


def test_random_operations_match_the_model(database_url: str) -> None:
    machine = ledger_machine(database_url)
    machine.TestCase.settings = settings(
        max_examples=12,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    machine.TestCase().runTest()
    from huafei.core.db import Database

    db = Database(database_url)
    with db.session() as session:
        report = check_everything(session)
    db.dispose()
    assert report.ok, report.render()


pytestmark = pytest.mark.slow
