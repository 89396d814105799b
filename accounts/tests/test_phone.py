import pytest
from django.core.exceptions import ValidationError

from accounts.phone import mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("0086 138-0013-8000", "+8613800138000"),
        ("+86.138.0013.8000", "+8613800138000"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw, expected):
    assert normalize_phone(raw, default_calling_code="") == expected


def test_a_national_number_takes_the_configured_calling_code():
    assert normalize_phone("020 7946 0958", default_calling_code="44") == "+442079460958"


@pytest.mark.parametrize(
    "raw", ["", "hello", "+0 123 456 789", "+12", "+1234567890123456", "020 7946 0958", "+44 20x"]
)
def test_bad_phone_numbers_are_refused_with_a_clear_message(raw):
    with pytest.raises(ValidationError) as exc:
        normalize_phone(raw, default_calling_code="")
    assert "international form" in str(exc.value.messages[0])


def test_masked_numbers_keep_the_country_and_last_four_digits():
    assert mask_phone("+442079460958") == "+4420****0958"
