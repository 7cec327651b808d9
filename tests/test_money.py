from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huafei.core.money import InvalidAmount, Money, Rate


class TestParse:
    @pytest.mark.parametrize(
        ("text", "fen"),
        [
            ("12", 1200),
            ("12.3", 1230),
            ("12.34", 1234),
            ("¥12.34", 1234),
            ("￥12.34", 1234),
            ("１２.３４", 1234),
            ("  12.34 ", 1234),
            ("0", 0),
            ("0.01", 1),
            ("1,234.56", 123456),
            ("100元", 10000),
        ],
    )
    def test_accepts_what_people_type(self, text: str, fen: int) -> None:
        assert Money.parse(text) == Money(fen)

    @pytest.mark.parametrize(
        "text",
        ["12.345", "1e3", "-1", "NaN", "", " ", "12.", ".5", "1,23", "abc", "¥", "1 000", "inf"],
    )
    def test_rejects_everything_else_with_a_clear_error(self, text: str) -> None:
        with pytest.raises(InvalidAmount) as caught:
            Money.parse(text)
        assert caught.value.code == "invalid_amount"
        assert repr(text) in caught.value.detail

    def test_rejects_absurd_amounts(self) -> None:
        with pytest.raises(InvalidAmount):
            Money.parse("100000000000000")

    @given(st.integers(min_value=0, max_value=10**14))
    def test_formatted_amount_parses_back(self, fen: int) -> None:
        money = Money(fen)
        assert Money.parse(money.format("zh_CN")) == money


class TestFormat:
    def test_zh_cn(self) -> None:
        assert Money(123456).format("zh_CN") == "¥1,234.56"

    def test_en(self) -> None:
        assert Money(123456).format("en") == "CN¥1,234.56"

    @pytest.mark.parametrize(
        ("fen", "plain", "yuan"),
        [
            (0, "0.00", "0.00"),
            (1, "0.01", "0.01"),
            (150, "1.50", "1.50"),
            (123456, "1234.56", "1234.56"),
            (-150, "-1.50", "-1.50"),
            (10**14, "1000000000000.00", "1000000000000.00"),
        ],
    )
    def test_plain_text_and_yuan_decimal(self, fen: int, plain: str, yuan: str) -> None:
        money = Money(fen)
        assert money.plain() == plain
        assert money.yuan == Decimal(yuan)
        assert money.yuan.as_tuple().exponent == -2
        assert str(money) == f"{plain} CNY"

    @given(st.integers(min_value=0, max_value=10**14))
    def test_plain_text_and_yuan_round_trip(self, fen: int) -> None:
        money = Money(fen)
        assert Money.parse(money.plain()) == money
        assert Money.from_yuan(money.yuan) == money

    def test_from_yuan_refuses_fractions_of_a_fen(self) -> None:
        assert Money.from_yuan(500) == Money(50_000)
        assert Money.from_yuan("12.3") == Money(1230)
        with pytest.raises(InvalidAmount):
            Money.from_yuan("0.001")

    def test_arithmetic_keeps_currency(self) -> None:
        assert Money(100) + Money(250) == Money(350)
        assert Money(100) * 3 == Money(300)
        with pytest.raises(TypeError):
            Money(100) * 1.5  # type: ignore[operator]


class TestRate:
    def test_apply_rounds_down_to_the_fen(self) -> None:
        assert Rate(Decimal("0.985")).apply(Money(3333)) == Money(3283)  # 3283.005 → 3283

    def test_shown_as_zhe_and_percent(self) -> None:
        rate = Rate.parse("98.5%")
        assert rate.value == Decimal("0.985")
        assert rate.as_zhe() == "9.85折"
        assert rate.as_percent() == "98.5%"
        assert Rate.parse("9.85折") == rate

    @pytest.mark.parametrize("text", ["1.2", "-0.1", "abc", "NaN"])
    def test_rejects_rates_outside_zero_to_one(self, text: str) -> None:
        with pytest.raises((InvalidAmount, TypeError)):
            Rate.parse(text)

    @given(
        st.integers(min_value=0, max_value=10**12),
        st.decimals(min_value=0, max_value=1, places=4),
    )
    def test_apply_is_never_more_than_exact_and_within_a_fen(
        self, fen: int, value: Decimal
    ) -> None:
        paid = Rate(value).apply(Money(fen)).fen
        exact = Decimal(fen) * value
        assert paid <= exact < paid + 1
