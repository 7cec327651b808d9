"""Card formats and face values per carrier, kept as data."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from huafei.carriers.errors import FaceValueNotSold
from huafei.carriers.formats import check_card, face_values_fen, load_table, require_face_value
from huafei.carriers.gateway import Carrier

NATIONAL = {Carrier.CMCC: (17, 18), Carrier.CUCC: (15, 19), Carrier.CTCC: (19, 18)}


def card(serial_length: int, pin_length: int) -> tuple[str, str]:
    return "1" * serial_length, "2" * pin_length


@pytest.mark.parametrize(("carrier", "lengths"), NATIONAL.items())
def test_national_cards_of_each_carrier(carrier, lengths) -> None:
    serial, pin = card(*lengths)
    assert check_card(carrier, serial, pin) is None


@pytest.mark.parametrize(("carrier", "lengths"), NATIONAL.items())
def test_lengths_off_by_one_are_named(carrier, lengths) -> None:
    serial_length, pin_length = lengths
    problem = check_card(carrier, *card(serial_length - 1, pin_length))
    assert problem is not None and problem.code == "serial_length"
    problem = check_card(carrier, *card(serial_length, pin_length + 1))
    assert problem is not None and problem.code == "pin_length"
    assert f"{pin_length + 1} digits" in problem.message


def test_another_carriers_card_is_recognised() -> None:
    problem = check_card(Carrier.CMCC, *card(*NATIONAL[Carrier.CUCC]))
    assert problem is not None
    assert problem.code == "wrong_carrier"
    assert "China Unicom" in problem.message


def test_digits_only() -> None:
    problem = check_card(Carrier.CMCC, "1234567890123456X", "1" * 18)
    assert problem is not None and problem.code == "not_digits"


def test_face_values_sold() -> None:
    yuan = {carrier: [fen // 100 for fen in face_values_fen(carrier)] for carrier in Carrier}
    assert yuan[Carrier.CMCC] == [10, 20, 30, 50, 100, 200, 300, 500]
    assert yuan[Carrier.CUCC] == [20, 30, 50, 100, 200, 300, 500]
    assert yuan[Carrier.CTCC] == [20, 30, 50, 100, 200, 300, 500]


def test_a_face_value_not_sold_is_a_typed_error() -> None:
    require_face_value(Carrier.CMCC, 1_000)
    with pytest.raises(FaceValueNotSold) as caught:
        require_face_value(Carrier.CUCC, 1_000)
    problem = caught.value.to_problem()
    assert problem["code"] == "face_value_not_sold"
    assert problem["status"] == 422
    assert 2_000 in problem["face_values_fen"]


def test_a_new_format_is_a_data_change() -> None:
    document = json.loads(
        resources.files("huafei.carriers").joinpath("card_formats.json").read_text("utf-8")
    )
    document["carriers"]["cmcc"]["formats"].append(
        {"name": "older regional", "serial_length": 16, "pin_length": 17}
    )
    table = load_table(json.dumps(document))
    assert check_card(Carrier.CMCC, *card(16, 17), table=table) is None
    assert check_card(Carrier.CMCC, *card(16, 17)) is not None  # not in the shipped table


def test_a_broken_table_is_refused() -> None:
    document = {"carriers": {"cmcc": {"name": "x", "face_values_yuan": [], "formats": []}}}
    with pytest.raises(ValueError, match="face values"):
        load_table(json.dumps(document))
