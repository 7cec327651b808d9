"""The carrier sandboxes' card stock: deterministic, honoured by any sandbox with the secret."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from huafei.cards.parser import parse_batch
from huafei.carriers.gateway import Carrier
from huafei.carriers.sandbox_cards import (
    CardIssueError,
    SandboxCardKind,
    issue_cards,
    read_card,
)
from huafei.cli.main import app
from huafei.core.settings import Settings

SECRET = "test-card-secret"
runner = CliRunner()


def test_issuing_is_deterministic_and_depends_on_the_secret() -> None:
    first = issue_cards(SECRET, Carrier.CMCC, 10_000, 5)
    assert first == issue_cards(SECRET, Carrier.CMCC, 10_000, 5)
    other = issue_cards("another secret", Carrier.CMCC, 10_000, 5)
    assert [c.serial for c in other] == [c.serial for c in first]
    assert [c.pin for c in other] != [c.pin for c in first]
    assert len({c.serial for c in first}) == 5


@pytest.mark.parametrize(
    ("carrier", "serial_length", "pin_length"),
    [(Carrier.CMCC, 17, 18), (Carrier.CUCC, 15, 19), (Carrier.CTCC, 19, 18)],
)
def test_cards_have_their_carriers_format(carrier, serial_length, pin_length) -> None:
    cards = issue_cards(SECRET, carrier, 5_000, 3, start=41)
    text = "\n".join(f"{c.serial} {c.pin}" for c in cards)
    batch = parse_batch(text, carrier)
    assert batch.errors == []
    assert all(len(c.serial) == serial_length and len(c.pin) == pin_length for c in cards)


def test_the_serial_says_what_the_card_is() -> None:
    (card,) = issue_cards(SECRET, Carrier.CUCC, 10_000, 1, kind=SandboxCardKind.WRONG_FACE, start=7)
    assert card.serial.startswith("9410")  # sandbox mark, wrong-face, 100 yuan printed
    assert card.actual_face_value_fen == 5_000  # the next smaller face sold
    read = read_card(SECRET, Carrier.CUCC, card.serial, card.pin)
    assert read == card


def test_a_wrong_pin_or_a_foreign_card_is_not_read() -> None:
    (card,) = issue_cards(SECRET, Carrier.CMCC, 3_000, 1)
    wrong = card.pin[:-1] + str((int(card.pin[-1]) + 1) % 10)
    assert read_card(SECRET, Carrier.CMCC, card.serial, wrong) is None
    assert read_card(SECRET, Carrier.CMCC, "1" + card.serial[1:], card.pin) is None
    assert read_card(SECRET, Carrier.CUCC, card.serial, card.pin) is None


def test_what_cannot_be_issued() -> None:
    with pytest.raises(CardIssueError):
        issue_cards(SECRET, Carrier.CUCC, 1_000, 1)  # Unicom sells no 10-yuan card
    with pytest.raises(CardIssueError):
        issue_cards(SECRET, Carrier.CMCC, 10_000, 1, actual_face_value_fen=5_000)
    with pytest.raises(CardIssueError):
        issue_cards(
            SECRET, Carrier.CMCC, 10_000, 1, kind=SandboxCardKind.WRONG_FACE,
            actual_face_value_fen=10_000,
        )  # fmt: skip
    with pytest.raises(CardIssueError):
        issue_cards(SECRET, Carrier.CUCC, 10_000, 2, start=999_999_999)


class TestIssueCardsCommand:
    def test_prints_pasteable_cards_any_sandbox_honours(self) -> None:
        result = runner.invoke(
            app, ["sandbox", "issue-cards", "--carrier", "cmcc", "--face", "100", "--count", "20"]
        )
        assert result.exit_code == 0, result.output
        batch = parse_batch(result.output, Carrier.CMCC)
        assert batch.errors == []
        assert len(batch.cards) == 20
        secret = Settings().sandbox_card_secret.get_secret_value()
        for card in batch.cards:
            read = read_card(secret, Carrier.CMCC, card.serial, card.pin)
            assert read is not None
            assert read.kind is SandboxCardKind.GOOD
            assert read.face_value_fen == 10_000

    def test_wrong_face_cards(self) -> None:
        result = runner.invoke(
            app,
            ["sandbox", "issue-cards", "--carrier", "ctcc", "--face", "100", "--count", "2",
             "--kind", "wrong-face", "--actual-face", "50"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        secret = Settings().sandbox_card_secret.get_secret_value()
        for line in result.output.splitlines():
            serial, pin = line.split()
            read = read_card(secret, Carrier.CTCC, serial, pin)
            assert read is not None
            assert (read.face_value_fen, read.actual_face_value_fen) == (10_000, 5_000)

    def test_refuses_a_face_value_not_sold(self) -> None:
        result = runner.invoke(app, ["sandbox", "issue-cards", "--carrier", "cucc", "--face", "10"])
        assert result.exit_code == 2
        assert "cannot issue" in result.output
