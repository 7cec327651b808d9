"""The ``id:base64,…`` settings format, parsed once for keys and rail secrets."""

from __future__ import annotations

import pytest

from huafei.core.keyed_settings import parse_keyed_secrets


def _key(key_id: str) -> str:
    return f"key {key_id!r}"


def test_entries_by_id_in_order_blank_entries_and_spaces_ignored() -> None:
    parsed = parse_keyed_secrets(" b:YWJj, ,a:ZGVm,", describe=_key)
    assert list(parsed.items()) == [("b", b"abc"), ("a", b"def")]


def test_nothing_configured_is_nothing() -> None:
    assert parse_keyed_secrets("", describe=_key) == {}


@pytest.mark.parametrize("spec", ["k1:not base64!", "k1:YWJ", "k1:YW Jj"])
def test_bad_base64_names_the_entry_never_the_value(spec: str) -> None:
    with pytest.raises(ValueError, match=r"^key 'k1' is not valid base64$"):
        parse_keyed_secrets(spec, describe=_key)


def test_an_id_outside_the_known_ones_is_refused_before_its_value_is_read() -> None:
    with pytest.raises(ValueError, match=r"^unknown rail 'paypal'$"):
        parse_keyed_secrets("paypal:!!", describe=_key, known={"bank"}, kind="rail")
