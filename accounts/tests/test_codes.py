import time

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from accounts import codes
from accounts.errors import (
    CodeAttemptsExhausted,
    CodeExpired,
    CodeInvalid,
    CodeSentTooRecently,
    CodeServiceUnavailable,
    TooManyCodes,
)
from accounts.tests.conftest import last_code

RF = RequestFactory()

PHONE = "+442079460958"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_code_is_six_digits_texted_to_the_number_and_stored_hashed(sms_outbox):
    codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    assert [m.to for m in sms_outbox] == [PHONE]
    code = last_code(sms_outbox)
    assert cache.get(f"accounts:code:sign-in:{PHONE}") not in (None, code)
    assert code not in str(cache.get(f"accounts:code:sign-in:{PHONE}"))


def test_a_code_works_once(sms_outbox):
    codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    code = last_code(sms_outbox)
    codes.verify_code(phone=PHONE, purpose="sign-in", code=code)
    with pytest.raises(CodeExpired):
        codes.verify_code(phone=PHONE, purpose="sign-in", code=code)


def test_a_code_for_one_purpose_does_not_work_for_another(sms_outbox):
    codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    with pytest.raises(CodeExpired):
        codes.verify_code(phone=PHONE, purpose="phone-change", code=last_code(sms_outbox))


def test_a_code_expires(sms_outbox, monkeypatch):
    monkeypatch.setattr(codes, "CODE_LIFETIME", 1)
    codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    time.sleep(1.3)
    with pytest.raises(CodeExpired):
        codes.verify_code(phone=PHONE, purpose="sign-in", code=last_code(sms_outbox))


def test_the_code_lifetime_is_five_minutes():
    assert codes.CODE_LIFETIME == 5 * 60


def test_a_code_allows_five_tries_then_dies(sms_outbox):
    codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    code = last_code(sms_outbox)
    for _ in range(4):
        with pytest.raises(CodeInvalid):
            codes.verify_code(phone=PHONE, purpose="sign-in", code=_wrong(code))
    with pytest.raises(CodeAttemptsExhausted):
        codes.verify_code(phone=PHONE, purpose="sign-in", code=_wrong(code))
    with pytest.raises(CodeExpired):  # even the right code is dead now
        codes.verify_code(phone=PHONE, purpose="sign-in", code=code)


def test_the_right_code_on_the_fifth_try_still_works(sms_outbox):
    codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    code = last_code(sms_outbox)
    for _ in range(4):
        with pytest.raises(CodeInvalid):
            codes.verify_code(phone=PHONE, purpose="sign-in", code=_wrong(code))
    codes.verify_code(phone=PHONE, purpose="sign-in", code=code)


def test_at_most_one_code_a_minute_per_number(sms_outbox):
    codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    with pytest.raises(CodeSentTooRecently):
        codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    codes.send_code(
        request=RF.post("/"), phone="+14155552671", purpose="sign-in"
    )  # another number is not held up
    assert len(sms_outbox) == 2


def test_at_most_five_codes_an_hour_per_number(sms_outbox):
    for _ in range(5):
        codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
        cache.delete(f"accounts:code-sent-recently:{PHONE}")  # a minute passes
    with pytest.raises(TooManyCodes):
        codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    assert len(sms_outbox) == 5


def test_a_new_code_replaces_the_previous_one(sms_outbox):
    codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    first = last_code(sms_outbox)
    cache.delete(f"accounts:code-sent-recently:{PHONE}")
    codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    second = last_code(sms_outbox)
    if first != second:
        with pytest.raises(CodeInvalid):
            codes.verify_code(phone=PHONE, purpose="sign-in", code=first)
    codes.verify_code(phone=PHONE, purpose="sign-in", code=second)


@pytest.fixture
def redis_down(settings):
    """A Redis that does not answer, with the production options (IGNORE_EXCEPTIONS)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
            },
        }
    }


def test_codes_fail_closed_when_the_cache_is_down(sms_outbox, redis_down):
    with pytest.raises(CodeServiceUnavailable):
        codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    with pytest.raises(CodeServiceUnavailable):
        codes.verify_code(phone=PHONE, purpose="sign-in", code="123456")
    assert sms_outbox == []


def test_verification_refuses_when_tries_cannot_be_counted(sms_outbox, monkeypatch):
    codes.send_code(request=RF.post("/"), phone=PHONE, purpose="sign-in")
    monkeypatch.setattr(codes.cache, "incr", lambda *a, **k: None)  # Redis lost mid-way
    with pytest.raises(CodeServiceUnavailable):
        codes.verify_code(phone=PHONE, purpose="sign-in", code=last_code(sms_outbox))
