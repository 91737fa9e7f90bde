"""Our table-free check digit agrees with biip's on any payload length GS1 keys use."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.gs1.keys import check_digit, reference_check_digit


@settings(max_examples=2000, deadline=None)
@given(
    st.integers(min_value=6, max_value=17).flatmap(
        lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)
    )
)
def test_check_digit_matches_biip(payload: str) -> None:
    assert check_digit.__wrapped__(payload) == reference_check_digit(payload)


def test_known_check_digits() -> None:
    assert check_digit("0401234512345") == "6"  # GTIN 04012345123456
    assert check_digit("10614141234567890") == "8"  # SSCC 106141412345678908
