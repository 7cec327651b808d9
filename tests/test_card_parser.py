"""Pasted batches: the forms people paste, every bad line reported, the good ones kept."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huafei.cards.errors import CardFormatInvalid
from huafei.cards.parser import ParsedCard, parse_batch, parse_card
from huafei.carriers.gateway import Carrier

CMCC = Carrier.CMCC  # 17-digit serial, 18-digit PIN


def serial(n: int) -> str:
    return f"{n:017d}"


def pin(n: int) -> str:
    return f"{n:018d}"


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


class TestForms:
    def test_every_usual_form(self) -> None:
        text = (
            "\ufeff"
            f"{serial(1)} {pin(1)}\r\n"
            f"{serial(2)},{pin(2)}\r\n"
            f"{serial(3)}，{pin(3)}\r\n"
            f"{serial(4)}\t{pin(4)}\r\n"
            f"  {serial(5)} ,  {pin(5)}  \r\n"
            "\r\n"
            f"{full_width(serial(6))}\u3000{full_width(pin(6))}\r\n"
            f"{serial(7)}\u200b {pin(7)}\r"
            "   \n"
            f"{serial(8)}；{pin(8)}\n"
        )
        batch = parse_batch(text, CMCC)
        assert batch.errors == []
        assert [(c.line, c.serial, c.pin) for c in batch.cards] == [
            (1, serial(1), pin(1)),
            (2, serial(2), pin(2)),
            (3, serial(3), pin(3)),
            (4, serial(4), pin(4)),
            (5, serial(5), pin(5)),
            (7, serial(6), pin(6)),
            (8, serial(7), pin(7)),
            (10, serial(8), pin(8)),
        ]
        assert batch.ok

    def test_each_carriers_lengths(self) -> None:
        text = f"{'2' * 15} {'3' * 19}\n{'4' * 19} {'5' * 18}"
        assert parse_batch(text, Carrier.CUCC).errors[0].line == 2
        assert parse_batch(text, Carrier.CTCC).errors[0].line == 1
        assert [c.line for c in parse_batch(text, Carrier.CUCC).cards] == [1]


class TestBadLines:
    def test_every_reason_with_its_line(self) -> None:
        text = "\n".join(
            [
                f"{serial(1)} {pin(1)}",
                f"{serial(2)}",
                f"{serial(3)} {pin(3)} extra",
                f"{serial(4)[:-1]}x {pin(4)}",
                f"{serial(5)[:-1]} {pin(5)}",
                f"{serial(6)} {pin(6)}0",
                f"{'7' * 15} {'7' * 19}",
                f"{serial(1)} {pin(9)}",
                "卡号 卡密",
                f"{serial(10)} {pin(10)}",
            ]
        )
        batch = parse_batch(text, CMCC)
        assert [(e.line, e.code) for e in batch.errors] == [
            (2, "missing_pin"),
            (3, "too_many_fields"),
            (4, "not_digits"),
            (5, "serial_length"),
            (6, "pin_length"),
            (7, "wrong_carrier"),
            (8, "duplicate_in_batch"),
            (9, "not_digits"),
        ]
        assert batch.errors[-2].message == "the same card as line 1"
        assert [c.line for c in batch.cards] == [1, 10]
        assert not batch.ok

    def test_at_most_a_thousand_cards(self) -> None:
        text = "\n".join(f"{serial(n)} {pin(n)}" for n in range(1, 1003))
        batch = parse_batch(text, CMCC)
        assert len(batch.cards) == 1000
        assert [(e.line, e.code) for e in batch.errors] == [
            (1001, "too_many_cards"),
            (1002, "too_many_cards"),
        ]

    def test_messages_never_repeat_the_pin(self) -> None:
        secret = "987654321098765432"
        lines = [f"{serial(1)} {secret}", f"{serial(1)} {secret}", f"{serial(2)} {secret}9"]
        batch = parse_batch("\n".join(lines), CMCC)
        assert len(batch.errors) == 2
        assert all(secret not in e.message for e in batch.errors)
        assert secret not in repr(batch)

    def test_nothing_but_blanks(self) -> None:
        batch = parse_batch("\r\n  \n\t\n\ufeff", CMCC)
        assert batch.cards == []
        assert batch.errors == []


class TestSingleCard:
    def test_normalised_like_a_line(self) -> None:
        card = parse_card(CMCC, f" {full_width(serial(1))} ", f"{pin(1)[:9]} {pin(1)[9:]}")
        assert card == ParsedCard(1, serial(1), pin(1))

    def test_a_bad_card_names_its_reason(self) -> None:
        with pytest.raises(CardFormatInvalid) as caught:
            parse_card(CMCC, serial(1), pin(1)[:-1])
        assert caught.value.to_problem()["reason"] == "pin_length"


# -- properties ---------------------------------------------------------------------------------
LENGTHS = {Carrier.CMCC: (17, 18), Carrier.CUCC: (15, 19), Carrier.CTCC: (19, 18)}
separators = st.sampled_from([" ", ",", "，", "\t", " , ", "\u3000", "  \t ", ";", "|"])
padding = st.sampled_from(["", " ", "  ", "\t", "\u3000"])
line_ends = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def cards_of(draw: st.DrawFn, carrier: Carrier) -> list[tuple[str, str]]:
    serial_length, pin_length = LENGTHS[carrier]
    serials = draw(
        st.lists(
            st.text(string.digits, min_size=serial_length, max_size=serial_length),
            unique=True,
            max_size=30,
        )
    )
    pins = st.text(string.digits, min_size=pin_length, max_size=pin_length)
    return [(s, draw(pins)) for s in serials]


@st.composite
def pasted(draw: st.DrawFn) -> tuple[Carrier, list[tuple[str, str]], str, list[int]]:
    """Valid cards written the way people paste them; and each card's line number."""
    carrier = draw(st.sampled_from(list(Carrier)))
    cards = draw(cards_of(carrier))
    parts: list[str] = ["\ufeff"] if draw(st.booleans()) else []
    # One line-end style a text (a CR followed by an LF would be one CRLF line end).
    end = draw(line_ends)
    lines: list[int] = []
    line = 1
    for card_serial, card_pin in cards:
        for _ in range(draw(st.integers(0, 2))):  # blank lines before
            parts.append(draw(padding) + end)
            line += 1
        wide = draw(st.booleans())
        serial_text = full_width(card_serial) if wide else card_serial
        pin_text = full_width(card_pin) if wide else card_pin
        parts.append(
            draw(padding) + serial_text + draw(separators) + pin_text + draw(padding) + end
        )  # fmt: skip
        lines.append(line)
        line += 1
    return carrier, cards, "".join(parts), lines


@settings(max_examples=150, deadline=None)
@given(pasted())
def test_whatever_the_form_every_card_comes_back_on_its_line(case) -> None:
    carrier, cards, text, lines = case
    batch = parse_batch(text, carrier)
    assert batch.errors == []
    assert [(c.serial, c.pin) for c in batch.cards] == cards
    assert [c.line for c in batch.cards] == lines


@settings(max_examples=150, deadline=None)
@given(pasted(), st.data())
def test_a_repeated_card_is_reported_and_the_first_kept(case, data) -> None:
    carrier, cards, text, _ = case
    if not cards:
        return
    repeated = data.draw(st.sampled_from(cards))
    text = text + f"{repeated[0]} {repeated[1]}\n"
    batch = parse_batch(text, carrier)
    assert [(c.serial, c.pin) for c in batch.cards] == cards
    assert [e.code for e in batch.errors] == ["duplicate_in_batch"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(list(Carrier)),
    st.text(alphabet=st.sampled_from("0123456789１２ ,，\t\r\n\ufeffx卡-"), max_size=300)
    | st.text(max_size=200),
    st.integers(1, 5),
)
def test_any_text_every_line_is_a_card_or_an_error(carrier, text, max_cards) -> None:
    batch = parse_batch(text, carrier, max_cards=max_cards)
    card_lines = [c.line for c in batch.cards]
    error_lines = [e.line for e in batch.errors]
    assert len(batch.cards) <= max_cards
    assert not set(card_lines) & set(error_lines)
    assert sorted(card_lines + error_lines) == sorted(set(card_lines + error_lines))
    assert len({c.serial for c in batch.cards}) == len(batch.cards)
    serial_length, pin_length = LENGTHS[carrier]
    for card in batch.cards:
        assert card.serial.isascii() and card.serial.isdigit() and len(card.serial) == serial_length
        assert card.pin.isascii() and card.pin.isdigit() and len(card.pin) == pin_length
    line_count = len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    assert all(1 <= n <= line_count for n in card_lines + error_lines)
