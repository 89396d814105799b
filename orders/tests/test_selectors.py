"""orders.selectors: reads the order pages and mails share."""

from django.core import signing
from django.test import override_settings

from orders.selectors import GUEST_LINK_SALT, guest_key


def test_an_orders_guest_key_is_djangos_signature_of_its_number_under_the_secret_key():
    numbers = ["7K3M-9QXP-2D", "RDRA-BCQ5-0D", "0000-0000-00"]
    for number in numbers:
        assert guest_key(number=number) == signing.Signer(salt=GUEST_LINK_SALT).signature(number)
    before = guest_key(number=numbers[0])
    with override_settings(SECRET_KEY="another-secret-key-for-this-test-only-0123456789"):
        after = guest_key(number=numbers[0])
        assert after == signing.Signer(salt=GUEST_LINK_SALT).signature(numbers[0])
    assert after != before
    assert guest_key(number=numbers[0]) == before
