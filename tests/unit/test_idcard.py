"""Resident identity numbers (GB 11643-1999): check digit, embedded birth date, full years."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.idcard import age_on, birth_date_from_id, check_digit, is_valid_id_number

PREFIX = "64010420100315123"  # Yinchuan Xingqing, born 15 March 2010, sequence 123


def make_id(first17: str = PREFIX) -> str:
    return first17 + check_digit(first17)


def with_wrong_check(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


def test_computes_the_check_digit_of_the_standards_own_example() -> None:
    assert check_digit("11010519491231002") == "X"


def test_computes_a_check_digit_for_every_remainder() -> None:
    # Bumping the last digit adds 2 to the weighted sum, so 11 steps reach every remainder.
    digits = {check_digit(f"6401042010031512{n % 10}") for n in range(10)}
    digits |= {check_digit(f"640104201003151{n % 10}0") for n in range(10)}
    assert digits == set("10X98765432")


@pytest.mark.parametrize("first17", ["6401042010031512", "640104201003151234", "6401042010031512a",
                                     "６４０１０４２０１００３１５１２３", ""])
def test_refuses_to_compute_a_check_digit_from_anything_but_17_ascii_digits(first17: str) -> None:
    with pytest.raises(ValueError):
        check_digit(first17)


def test_accepts_an_id_number_with_a_correct_check_digit() -> None:
    assert is_valid_id_number(make_id())


def test_accepts_an_id_number_ending_in_upper_case_x() -> None:
    assert is_valid_id_number("11010519491231002X")


def test_refuses_an_id_number_with_a_wrong_check_digit() -> None:
    assert not is_valid_id_number(with_wrong_check(make_id()))


def test_refuses_an_id_number_ending_in_lower_case_x() -> None:
    assert not is_valid_id_number("11010519491231002x")


@pytest.mark.parametrize("value", [make_id()[:17], make_id() + "0", " " + make_id(), None, 1])
def test_refuses_an_id_number_of_the_wrong_length_or_type(value: object) -> None:
    assert not is_valid_id_number(value)  # type: ignore[arg-type]


def test_refuses_an_id_number_written_in_full_width_digits() -> None:
    full_width = make_id().translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert not is_valid_id_number(full_width)


def test_refuses_an_id_number_whose_birth_date_is_not_a_real_date() -> None:
    assert not is_valid_id_number(make_id("64010420100230123"))  # 30 February


def test_reads_the_birth_date_out_of_a_valid_id_number() -> None:
    assert birth_date_from_id(make_id()) == date(2010, 3, 15)


def test_reads_no_birth_date_out_of_an_id_number_with_a_wrong_check_digit() -> None:
    assert birth_date_from_id(with_wrong_check(make_id())) is None


def test_counts_a_year_only_once_the_birthday_is_reached() -> None:
    birth = date(2010, 3, 15)
    assert age_on(birth, date(2028, 3, 14)) == 17
    assert age_on(birth, date(2028, 3, 15)) == 18


def test_counts_a_leap_day_birthday_on_the_first_of_march_in_common_years() -> None:
    birth = date(2008, 2, 29)
    assert age_on(birth, date(2026, 2, 28)) == 17
    assert age_on(birth, date(2026, 3, 1)) == 18


def test_gives_a_negative_age_when_birth_is_after_the_day() -> None:
    assert age_on(date(2024, 5, 2), date(2024, 5, 1)) == -1
    assert age_on(date(2024, 5, 1), date(2024, 5, 1)) == 0
