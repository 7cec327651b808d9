"""Parsing what people type (property-based), masking, and the shared rate limiter."""

from __future__ import annotations

import contextlib
import os
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huafei.carriers.gateway import Carrier
from huafei.core.ratelimit import RateLimiter
from huafei.identity import errors
from huafei.identity.validation import (
    id_check_char,
    mask_id_number,
    mask_phone,
    mask_real_name,
    parse_id_number,
    parse_mobile,
    parse_real_name,
)

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
PROVINCES = ["11", "31", "44", "50", "65", "81"]

adult_birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2008, 11, 26))
minor_birth_dates = st.dates(min_value=date(2008, 11, 27), max_value=date(2026, 11, 26))


def _id(region: str, born: date, sequence: int) -> str:
    first17 = f"{region}0101{born:%Y%m%d}{sequence:03d}"
    return first17 + id_check_char(first17)


class TestIdNumbers:
    @given(st.sampled_from(PROVINCES), adult_birth_dates, st.integers(0, 999))
    def test_every_well_formed_adult_number_parses(self, region, born, sequence) -> None:
        number = _id(region, born, sequence)
        parsed = parse_id_number(number.lower() if number.endswith("X") else number, now=NOW)
        assert parsed.value == number
        assert parsed.birth_date == born

    @given(st.sampled_from(PROVINCES), adult_birth_dates, st.integers(0, 999), st.data())
    def test_any_other_check_character_is_caught(self, region, born, sequence, data) -> None:
        number = _id(region, born, sequence)
        wrong = data.draw(st.sampled_from([c for c in "0123456789X" if c != number[-1]]))
        with pytest.raises(errors.IdCheckDigitMismatch):
            parse_id_number(number[:-1] + wrong, now=NOW)

    @given(st.sampled_from(PROVINCES), adult_birth_dates, st.integers(0, 999), st.data())
    def test_a_single_mistyped_digit_is_caught(self, region, born, sequence, data) -> None:
        number = _id(region, born, sequence)
        position = data.draw(st.integers(0, 16))
        digit = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
        typo = number[:position] + digit + number[position + 1 :]
        with pytest.raises(errors.InvalidIdNumber):
            parse_id_number(typo, now=NOW)

    @given(st.sampled_from(PROVINCES), minor_birth_dates, st.integers(0, 999))
    def test_minors_are_refused(self, region, born, sequence) -> None:
        with pytest.raises(errors.SellerIsMinor):
            parse_id_number(_id(region, born, sequence), now=NOW)

    def test_the_eighteenth_birthday_counts_in_beijing(self) -> None:
        number = _id("31", date(2008, 11, 27), 1)
        late_evening_utc = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # 00:00 on the 27th
        assert parse_id_number(number, now=late_evening_utc).birth_date == date(2008, 11, 27)
        with pytest.raises(errors.SellerIsMinor):
            parse_id_number(number, now=late_evening_utc - timedelta(seconds=1))

    @given(st.text(max_size=40))
    def test_any_text_parses_or_is_refused_with_a_typed_error(self, text) -> None:
        with contextlib.suppress(errors.InvalidIdNumber, errors.SellerIsMinor):
            parse_id_number(text, now=NOW)

    def test_masking(self) -> None:
        assert mask_id_number("310101199001011234") == "3101**********1234"


class TestMobileNumbers:
    @given(st.sampled_from(["135", "138", "139", "150", "188"]), st.integers(0, 10**8 - 1))
    def test_china_mobile_segments(self, segment, rest) -> None:
        # (not 134: its 1349 block is the satellite operator's)
        number = parse_mobile(f"+86 {segment}{rest:08d}")
        assert number.phone == f"{segment}{rest:08d}"
        assert number.carrier is Carrier.CMCC

    @given(st.text(max_size=40))
    def test_any_text_parses_or_is_refused_with_a_typed_error(self, text) -> None:
        try:
            number = parse_mobile(text)
        except (errors.InvalidPhoneNumber, errors.UnsupportedCarrier):
            return
        assert len(number.phone) == 11
        assert number.phone.isdigit()

    def test_masking(self) -> None:
        assert mask_phone("13800138000") == "138****8000"


class TestRealNames:
    @pytest.mark.parametrize(
        ("typed", "stored"),
        [("张三", "张三"), (" 李 雷 ", "李雷"), ("阿卜杜拉•买买提", "阿卜杜拉·买买提")],
    )
    def test_accepted(self, typed, stored) -> None:
        assert parse_real_name(typed) == stored

    @pytest.mark.parametrize("typed", ["", "张", "Zhang San", "张3", "·张三", "张" * 31])
    def test_refused(self, typed) -> None:
        with pytest.raises(errors.InvalidRealName):
            parse_real_name(typed)

    def test_masking(self) -> None:
        assert mask_real_name("欧阳娜娜") == "欧***"


class TestRateLimiter:
    def test_counts_per_key_and_refuses_with_a_retry_time(self) -> None:
        limiter = RateLimiter()
        assert limiter.hit("2/hour", "sms", "a").allowed
        assert limiter.hit("2/hour", "sms", "a").allowed
        refused = limiter.hit("2/hour", "sms", "a")
        assert not refused.allowed
        assert 3500 < refused.retry_after_seconds <= 3600
        assert limiter.hit("2/hour", "sms", "b").allowed
        assert not limiter.check("2/hour", "sms", "a").allowed
        limiter.reset("2/hour", "sms", "a")
        assert limiter.check("2/hour", "sms", "a").allowed

    def test_limiters_do_not_share_memory(self) -> None:
        first, second = RateLimiter(), RateLimiter()
        first.hit("1/hour", "sms", "a")
        assert second.hit("1/hour", "sms", "a").allowed

    def test_redis_is_shared_between_processes(self) -> None:
        url = os.environ.get("HUAFEI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
        namespace = uuid.uuid4().hex
        try:
            first = RateLimiter(url, namespace=namespace)
            first.hit("1/hour", "sms", "a")
        except Exception as exc:  # any connection failure means there is no Redis here
            pytest.skip(f"Redis not available: {type(exc).__name__}")
        second = RateLimiter(url, namespace=namespace)  # another process, same Redis
        assert not second.hit("1/hour", "sms", "a").allowed
        assert RateLimiter(url, namespace=uuid.uuid4().hex).hit("1/hour", "sms", "a").allowed
        first.reset("1/hour", "sms", "a")
