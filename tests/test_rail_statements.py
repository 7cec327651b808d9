"""Each rail's statement format: what the sandbox writes, reconciliation reads back."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huafei.payouts.models import RailName
from huafei.payouts.rails import statements
from huafei.payouts.rails.statements import StatementEntry, StatementFormatError

DAY = date(2026, 11, 25)
AT = datetime(2026, 11, 25, 2, 30, 15, tzinfo=UTC)


def entry(n: int, *, status: str = "succeeded", amount: int = 10_050) -> StatementEntry:
    return StatementEntry(
        payout_id=f"HFW20261125{n:012X}",
        rail_ref=f"BANK2026112500000{n:03d}",
        amount_fen=amount,
        status=status,
        booked_at=AT,
        account_masked="6222***********0123",
        name_masked="张*",
        reason="" if status == "succeeded" else "收款账户已冻结 / the payee account is frozen",
    )


@pytest.mark.parametrize("rail", list(RailName))
def test_round_trip(rail) -> None:
    entries = [entry(1), entry(2, status="failed", amount=99), entry(3, amount=5_000_000)]
    data = statements.render(rail, DAY, entries)
    parsed = statements.parse(rail, data)
    assert [(e.payout_id, e.rail_ref, e.amount_fen, e.status) for e in parsed] == [
        (e.payout_id, e.rail_ref, e.amount_fen, e.status) for e in entries
    ]
    assert all(e.booked_at == AT for e in parsed)


def test_bank_statement_looks_like_a_bank_export() -> None:
    text = statements.render(RailName.BANK, DAY, [entry(1)]).decode("gb18030")
    lines = text.splitlines()
    assert lines[0] == "华飞代付对账单"
    assert lines[2].startswith("交易日期,交易时间,商户订单号,银行流水号")
    assert lines[3].startswith("20261125,103015,HFW")
    assert ",100.50,0.00,CNY,成功," in lines[3]
    assert lines[-1] == "合计笔数：1,成功金额：100.50"


def test_alipay_and_wechat_shapes() -> None:
    alipay = statements.render(RailName.ALIPAY, DAY, [entry(1)]).decode("gb18030")
    assert alipay.startswith("#支付宝业务明细查询")
    assert "业务明细列表结束" in alipay
    wechat = statements.render(RailName.WECHAT, DAY, [entry(1)]).decode("utf-8")
    assert "`2026-11-25 10:30:15" in wechat
    assert "`SUCCESS" in wechat
    ecny = statements.render(RailName.ECNY, DAY, [entry(1)]).decode()
    assert ecny.splitlines()[0] == "H|ECNY|HF0001|20261125|1"
    assert ecny.splitlines()[-1] == "T|1|100.50"


def test_carrier_wallet_statement_looks_like_a_wallet_portal_export() -> None:
    data = statements.render(RailName.CARRIER_WALLET, DAY, [entry(1, amount=9_300)])
    assert data.startswith("\ufeff".encode())  # Excel opens UTF-8 only with the mark
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("出款时间,商户订单号,钱包流水号,收款手机号")
    assert lines[1].startswith("2026-11-25 10:30:15,HFW")
    assert ",93.00,成功," in lines[1]
    assert lines[-1] == "合计,2026-11-25,1笔,,,93.00"


@pytest.mark.parametrize("rail", list(RailName))
def test_garbage_is_refused(rail) -> None:
    with pytest.raises(StatementFormatError):
        statements.parse(rail, b"not,a,statement\n1,2,3\n")


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**10), st.sampled_from(["succeeded", "failed"])
        ),
        max_size=20,
    ),
    st.sampled_from(list(RailName)),
)
def test_any_amounts_survive_the_trip(rows, rail) -> None:
    entries = [entry(i, amount=amount, status=status) for i, (amount, status) in enumerate(rows)]
    parsed = statements.parse(rail, statements.render(rail, DAY, entries))
    assert [(e.amount_fen, e.status) for e in parsed] == [(e.amount_fen, e.status) for e in entries]
