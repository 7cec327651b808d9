"""Payout accounts: card check digits, banks from BINs, the other rails' formats, masking, fees."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huafei.payouts import errors
from huafei.payouts.accounts import (
    banks,
    card_bins,
    check_account,
    luhn_valid,
    mask_name,
    normalise_name,
)
from huafei.payouts.models import MethodKind
from huafei.payouts.policy import FeeRule, default_policy
from payouts_harness import luhn_complete


class TestLuhn:
    def test_known_numbers(self) -> None:
        assert luhn_valid("79927398713")
        assert luhn_valid("4111111111111111")
        assert not luhn_valid("79927398710")

    @given(st.text(alphabet="0123456789", min_size=11, max_size=18))
    def test_completing_a_number_makes_it_valid(self, digits) -> None:
        number = luhn_complete(digits, len(digits) + 1)
        assert luhn_valid(number)

    @given(
        st.text(alphabet="0123456789", min_size=15, max_size=18),
        st.integers(min_value=0, max_value=17),
        st.integers(min_value=1, max_value=9),
    )
    def test_any_single_digit_error_is_caught(self, digits, position, delta) -> None:
        number = luhn_complete(digits, len(digits) + 1)
        index = position % len(number)
        wrong = number[:index] + str((int(number[index]) + delta) % 10) + number[index + 1 :]
        assert not luhn_valid(wrong)

    def test_non_digits(self) -> None:
        assert not luhn_valid("4111-1111")
        assert not luhn_valid("４１１１")


class TestBankCards:
    def test_bank_from_bin(self) -> None:
        checked = check_account(MethodKind.BANK_CARD, luhn_complete("622848", 19))
        assert checked.bank is not None
        assert checked.bank.code == "ABC"
        assert checked.bank.name_zh == "中国农业银行"
        assert checked.masked.startswith("6228 ****")

    def test_spaces_and_full_width_digits_are_fine(self) -> None:
        number = luhn_complete("622588", 16)
        typed = " ".join(number[i : i + 4] for i in range(0, 16, 4))
        typed = typed.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        checked = check_account(MethodKind.BANK_CARD, typed)
        assert checked.number == number
        assert checked.bank is not None
        assert checked.bank.code == "CMB"

    def test_a_wrong_check_digit(self) -> None:
        number = luhn_complete("622202", 19)
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        with pytest.raises(errors.CardNumberInvalid):
            check_account(MethodKind.BANK_CARD, wrong)

    def test_credit_cards_are_refused(self) -> None:
        with pytest.raises(errors.CreditCardNotAllowed) as caught:
            check_account(MethodKind.BANK_CARD, luhn_complete("622575", 16))
        assert caught.value.extra["bank"] == "CMB"

    def test_an_unknown_bin(self) -> None:
        with pytest.raises(errors.CardBankUnsupported):
            check_account(MethodKind.BANK_CARD, luhn_complete("999111", 16))

    def test_the_length_must_match_the_bin(self) -> None:
        with pytest.raises(errors.CardBankUnsupported):
            check_account(MethodKind.BANK_CARD, luhn_complete("622202", 16))

    def test_the_table_covers_the_major_banks(self) -> None:
        table = card_bins()
        debit_banks = {b.bank.code for b in table.values() if b.card_type == "DC"}
        assert {"ICBC", "ABC", "BOC", "CCB", "COMM", "PSBC", "CMB", "CITIC"} <= debit_banks
        assert set(banks()) == {b.bank.code for b in table.values()}
        assert all(15 <= b.length <= 19 and b.prefix.isdigit() for b in table.values())


class TestOtherRails:
    def test_alipay_phone_and_email(self) -> None:
        assert check_account(MethodKind.ALIPAY, "138 0013 8000").masked == "138****8000"
        email = check_account(MethodKind.ALIPAY, "Zhang.San@Example.com")
        assert email.number == "zhang.san@example.com"
        assert email.masked == "z***@example.com"
        with pytest.raises(errors.InvalidPayoutAccount):
            check_account(MethodKind.ALIPAY, "12345")

    def test_wechat_openid(self) -> None:
        openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
        assert check_account(MethodKind.WECHAT, openid).masked == "oUpF" + "*" * 20 + "eS6o"
        with pytest.raises(errors.InvalidPayoutAccount):
            check_account(MethodKind.WECHAT, "xUpF8uMuAJO_M2pxb1Q9zNjWeS6o")

    def test_ecny_wallet_id(self) -> None:
        assert check_account(MethodKind.ECNY, "0021 4567 8901 2345").number == "0021456789012345"
        with pytest.raises(errors.InvalidPayoutAccount):
            check_account(MethodKind.ECNY, "002145678901234")


class TestNames:
    def test_names_compare_without_spaces_and_dot_variants(self) -> None:
        assert normalise_name(" 买买提·艾力 ") == normalise_name("买买提•艾力")
        assert normalise_name("张 三") == "张三"

    def test_masking(self) -> None:
        assert mask_name("张三") == "张*"
        assert mask_name("欧阳娜娜") == "欧***"


class TestFees:
    def test_defaults_per_method(self) -> None:
        personal = default_policy().profile_for("seller:1")
        assert personal.name == "personal"
        assert personal.fees[MethodKind.BANK_CARD].fee(10_000) == 200
        assert personal.fees[MethodKind.ALIPAY].fee(10_000) == 10  # 0.1 % of 100 yuan
        assert personal.fees[MethodKind.ALIPAY].fee(5_000) == 10  # the minimum
        assert personal.fees[MethodKind.WECHAT].fee(5_000_000) == 2_500  # the cap
        assert personal.fees[MethodKind.ECNY].fee(123_456) == 0
        assert personal.limits.min_fen == 1_000
        assert personal.limits.max_single_fen == 5_000_000
        assert default_policy().profile_for("enterprise:3").name == "enterprise"

    @given(st.integers(min_value=0, max_value=10**12))
    def test_a_rate_fee_rounds_down_and_stays_in_bounds(self, amount) -> None:
        rule = FeeRule(fixed_fen=0, rate=Decimal("0.0015"), min_fen=10, max_fen=2_500)
        fee = rule.fee(amount)
        assert 10 <= fee <= 2_500
        exact = Decimal(amount) * Decimal("0.0015")
        assert fee <= max(exact, 10) or fee == 10

    def test_describe(self) -> None:
        personal = default_policy().profile_for("seller:1")
        assert personal.fees[MethodKind.BANK_CARD].describe() == "¥2.00"
        assert personal.fees[MethodKind.ALIPAY].describe() == "0.1% (min ¥0.10, max ¥25.00)"
        assert personal.fees[MethodKind.ECNY].describe() == "free"
