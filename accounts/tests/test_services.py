import pytest
from django.contrib.auth import authenticate
from django.core import mail
from django.core.cache import cache
from django.test import RequestFactory

from accounts import services, tokens
from accounts.errors import (
    CodeAttemptsExhausted,
    CodeExpired,
    CodeInvalid,
    CodeSentTooRecently,
    EmailTaken,
    LoginThrottled,
    NoPhoneNumber,
    PhoneTaken,
    TokenInvalid,
)
from accounts.models import Address, User
from accounts.tests.conftest import last_code
from accounts.tests.factories import PASSWORD, AddressFactory, UserFactory

SITE = "http://testserver/"
pytestmark = pytest.mark.django_db

RF = RequestFactory()


def _register(capture, email="new@example.com", **extra):
    with capture(execute=True):
        services.register_user(email=email, password=PASSWORD, site_url=SITE, **extra)


def _activation_token(message) -> str:
    return message.body.split("/accounts/activate/")[1].split("/")[0]


def test_registration_creates_an_inactive_account_and_mails_the_link(
    django_capture_on_commit_callbacks,
):
    _register(django_capture_on_commit_callbacks, email=" New@Example.com ", full_name="Nia")
    user = User.objects.get(email="new@example.com")
    assert not user.is_active
    assert user.full_name == "Nia"
    assert user.check_password(PASSWORD)
    [message] = mail.outbox
    assert message.to == ["new@example.com"]
    assert "/accounts/activate/" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and "/accounts/activate/" in html and "#0f5e57" in html


def test_mail_is_sent_only_after_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.register_user(email="late@example.com", password=PASSWORD, site_url=SITE)
    assert mail.outbox == []
    assert len(callbacks) == 1


def test_registering_an_existing_email_changes_nothing_and_mails_its_owner(
    user, django_capture_on_commit_callbacks
):
    before = User.objects.get(pk=user.pk).password
    _register(django_capture_on_commit_callbacks, email="ADA@example.com")
    assert User.objects.filter(email="ada@example.com").count() == 1
    assert User.objects.get(pk=user.pk).password == before
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert "already has an account" in message.body
    assert "/accounts/password/reset/" in message.body
    assert message.alternatives[0][1] == "text/html"


FIRST, SECOND = "first-claims-it-7", "owner-chose-this-9"


def test_registering_again_before_activation_replaces_the_password_and_kills_older_links(
    django_capture_on_commit_callbacks,
):
    """An account can no longer be taken over before its owner signs up: the link the
    first registrant's mail carried dies, and the address's owner activates their own
    password."""
    with django_capture_on_commit_callbacks(execute=True):
        services.register_user(
            email="owner@example.com", password=FIRST, full_name="Squatter", site_url=SITE
        )
    cache.clear()  # a minute passes (one account mail a minute per address)
    with django_capture_on_commit_callbacks(execute=True):
        services.register_user(
            email="Owner@Example.com", password=SECOND, full_name="Olive Owner", site_url=SITE
        )
    first, second = (_activation_token(message) for message in mail.outbox)
    assert [m.to for m in mail.outbox] == [["owner@example.com"], ["owner@example.com"]]
    assert User.objects.filter(email="owner@example.com").count() == 1
    with pytest.raises(TokenInvalid):
        services.activate_account(token=first)
    assert not User.objects.get(email="owner@example.com").is_active
    activation = services.activate_account(token=second)
    user = User.objects.get(pk=activation.user.pk)
    assert user.is_active and user.full_name == "Olive Owner"
    assert user.check_password(SECOND) and not user.check_password(FIRST)
    with pytest.raises(TokenInvalid):
        services.activate_account(token=first)


def test_a_registration_within_the_mail_minute_still_replaces_the_password(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        services.register_user(email="owner@example.com", password=FIRST, site_url=SITE)
        services.register_user(email="owner@example.com", password=SECOND, site_url=SITE)
    [message] = mail.outbox  # no second mail within the minute ...
    with pytest.raises(TokenInvalid):  # ... and the first link no longer activates
        services.activate_account(token=_activation_token(message))
    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.resend_activation(email="owner@example.com", site_url=SITE)
    services.activate_account(token=_activation_token(mail.outbox[-1]))
    assert User.objects.get(email="owner@example.com").check_password(SECOND)


def test_a_registration_sent_twice_keeps_the_link_mailed_first_working(
    django_capture_on_commit_callbacks,
):
    _register(django_capture_on_commit_callbacks)
    _register(django_capture_on_commit_callbacks)  # the same form, sent again
    [message] = mail.outbox
    assert services.activate_account(token=_activation_token(message)).user.is_active


def test_registering_again_after_activation_changes_no_password(
    django_capture_on_commit_callbacks,
):
    _register(django_capture_on_commit_callbacks, email="owner@example.com")
    services.activate_account(token=_activation_token(mail.outbox[0]))
    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.register_user(email="owner@example.com", password=SECOND, site_url=SITE)
    user = User.objects.get(email="owner@example.com")
    assert user.check_password(PASSWORD) and not user.check_password(SECOND)
    assert "already has an account" in mail.outbox[-1].body


def test_activation_link_activates_once(django_capture_on_commit_callbacks):
    _register(django_capture_on_commit_callbacks)
    token = _activation_token(mail.outbox[0])
    activation = services.activate_account(token=token)
    assert activation.user.is_active
    assert User.objects.get(email="new@example.com").is_active
    with pytest.raises(TokenInvalid):
        services.activate_account(token=token)


def test_activation_link_expires_after_the_configured_days(
    django_capture_on_commit_callbacks, settings, now_plus
):
    settings.ACCOUNT_ACTIVATION_DAYS = 2
    _register(django_capture_on_commit_callbacks)
    token = _activation_token(mail.outbox[0])
    now_plus(2 * 86400 + 5)
    with pytest.raises(TokenInvalid):
        services.activate_account(token=token)
    assert not User.objects.get(email="new@example.com").is_active


def test_a_tampered_activation_link_is_refused():
    with pytest.raises(TokenInvalid):
        services.activate_account(token="not-a-token")


def test_resend_activation_mails_a_new_link_to_an_unactivated_account(
    django_capture_on_commit_callbacks,
):
    _register(django_capture_on_commit_callbacks)
    cache.clear()  # a minute passes (one account mail a minute per address)
    with django_capture_on_commit_callbacks(execute=True):
        services.resend_activation(email="new@example.com", site_url=SITE)
    assert len(mail.outbox) == 2
    services.activate_account(token=_activation_token(mail.outbox[1]))


def test_resend_activation_says_nothing_for_active_or_unknown_addresses(
    user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.resend_activation(email=user.email, site_url=SITE)
        services.resend_activation(email="nobody@example.com", site_url=SITE)
    assert mail.outbox == []


def test_account_mails_are_limited_to_one_a_minute_per_address(django_capture_on_commit_callbacks):
    _register(django_capture_on_commit_callbacks)
    _register(django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1


def test_password_sign_in_by_email_or_phone(user, rf):
    user.phone = "+442079460958"
    user.save()
    for identifier in ("ADA@example.com", "+44 20 7946 0958", "0044 20 7946 0958"):
        found = services.authenticate_with_password(
            request=rf.post("/", REMOTE_ADDR="10.0.0.1"), identifier=identifier, password=PASSWORD
        )
        assert found == user


def test_an_inactive_account_cannot_sign_in(rf):
    UserFactory(email="idle@example.com", is_active=False)
    assert authenticate(rf.post("/"), username="idle@example.com", password=PASSWORD) is None


def test_five_failures_for_an_account_lock_it_for_a_cooldown(user, rf):
    for n in range(5):  # the fifth failure is told it has started the cooldown
        with pytest.raises(services.InvalidCredentials if n < 4 else LoginThrottled):
            services.authenticate_with_password(
                request=rf.post("/", REMOTE_ADDR=f"10.0.0.{n}"),
                identifier=user.email,
                password="wrong",
            )
    with pytest.raises(LoginThrottled) as exc:  # even the right password, from a new address
        services.authenticate_with_password(
            request=rf.post("/", REMOTE_ADDR="10.9.9.9"), identifier=user.email, password=PASSWORD
        )
    assert "15 minutes" in str(exc.value.message)


def test_five_failures_from_an_ip_lock_that_ip(user, rf):
    for n in range(5):  # the fifth failure is told it has started the cooldown
        with pytest.raises(services.InvalidCredentials if n < 4 else LoginThrottled):
            services.authenticate_with_password(
                request=rf.post("/", REMOTE_ADDR="10.0.0.7"),
                identifier=f"guess{n}@example.com",
                password="x",
            )
    with pytest.raises(LoginThrottled):
        services.authenticate_with_password(
            request=rf.post("/", REMOTE_ADDR="10.0.0.7"), identifier=user.email, password=PASSWORD
        )
    assert services.authenticate_with_password(
        request=rf.post("/", REMOTE_ADDR="10.0.0.8"), identifier=user.email, password=PASSWORD
    )


def test_a_password_reset_lifts_the_account_cooldown(user, rf):
    for n in range(5):
        with pytest.raises(services.InvalidCredentials if n < 4 else LoginThrottled):
            services.authenticate_with_password(
                request=rf.post("/", REMOTE_ADDR="10.0.0.1"),
                identifier=user.email,
                password="wrong",
            )
    services.password_was_reset(user=user)
    assert services.authenticate_with_password(
        request=rf.post("/", REMOTE_ADDR="10.0.0.2"), identifier=user.email, password=PASSWORD
    )


def test_phone_code_sign_in_creates_an_account_for_a_new_number(sms_outbox, rf):
    services.send_phone_code(request=RF.post("/"), phone="+8613800138000", purpose="sign-in")
    user, created = services.sign_in_with_phone_code(
        request=rf.post("/", REMOTE_ADDR="10.0.0.1"),
        phone="+8613800138000",
        code=last_code(sms_outbox),
    )
    assert created and user.phone == "+8613800138000" and user.email is None
    assert user.is_active and not user.has_usable_password()


def test_phone_code_sign_in_finds_the_existing_account(user, sms_outbox, rf):
    user.phone = "+8613800138000"
    user.save()
    services.send_phone_code(request=RF.post("/"), phone="+8613800138000", purpose="sign-in")
    found, created = services.sign_in_with_phone_code(
        request=rf.post("/", REMOTE_ADDR="10.0.0.1"),
        phone="+8613800138000",
        code=last_code(sms_outbox),
    )
    assert found == user and not created


def test_phone_change_needs_the_code_and_a_free_number(user, sms_outbox):
    UserFactory(phone="+14155552671")
    services.send_phone_code(request=RF.post("/"), phone="+14155552671", purpose="phone-change")
    with pytest.raises(PhoneTaken):
        services.confirm_phone_change(user=user, phone="+14155552671", code=last_code(sms_outbox))
    services.send_phone_code(request=RF.post("/"), phone="+442079460958", purpose="phone-change")
    services.confirm_phone_change(user=user, phone="+442079460958", code=last_code(sms_outbox))
    assert User.objects.get(pk=user.pk).phone == "+442079460958"


def _email_change_token(message) -> str:
    return message.body.split("/accounts/email/confirm/")[1].split("/")[0]


def test_email_change_waits_for_the_link_sent_to_the_new_address(
    user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.request_email_change(user=user, new_email="Ada@Newmail.example", site_url=SITE)
    [message] = mail.outbox
    assert message.to == ["ada@newmail.example"]
    assert message.alternatives[0][1] == "text/html"
    assert User.objects.get(pk=user.pk).email == "ada@example.com"
    token = _email_change_token(message)
    services.confirm_email_change(token=token)
    assert User.objects.get(pk=user.pk).email == "ada@newmail.example"
    with pytest.raises(TokenInvalid):  # single use
        services.confirm_email_change(token=token)


def test_email_change_link_expires(user, django_capture_on_commit_callbacks, settings, now_plus):
    with django_capture_on_commit_callbacks(execute=True):
        services.request_email_change(user=user, new_email="ada@new.example", site_url=SITE)
    now_plus(settings.ACCOUNT_EMAIL_CHANGE_HOURS * 3600 + 5)
    with pytest.raises(TokenInvalid):
        services.confirm_email_change(token=_email_change_token(mail.outbox[0]))


def test_email_change_to_a_taken_address_sends_nothing(user, django_capture_on_commit_callbacks):
    UserFactory(email="taken@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_email_change(user=user, new_email="taken@example.com", site_url=SITE)
    assert mail.outbox == []
    # and a link made before the address was taken fails cleanly
    token = tokens.make_token(user=user, salt=services.EMAIL_CHANGE_SALT, e="taken@example.com")
    with pytest.raises(EmailTaken):
        services.confirm_email_change(token=token)


def _fields(address) -> dict:
    return {name: getattr(address, name) for name in services.ADDRESS_FIELDS}


def test_the_first_address_becomes_the_default(user):
    a = services.create_address(user=user, fields=_fields(AddressFactory.build(user=user)))
    b = services.create_address(
        user=user, fields=_fields(AddressFactory.build(user=user, line1="2 Other Street"))
    )
    assert Address.objects.get(pk=a.pk).is_default_shipping
    assert not Address.objects.get(pk=b.pk).is_default_shipping


def test_saving_an_address_the_book_holds_adds_no_duplicate(user):
    first = services.create_address(user=user, fields=_fields(AddressFactory.build(user=user)))
    again = _fields(first)
    again["line1"] = f"  {first.line1.upper()} "  # case and spacing do not make it new
    assert services.create_address(user=user, fields=again) == first
    assert Address.objects.filter(user=user).count() == 1
    other = services.create_address(user=user, fields={**_fields(first), "line2": "Flat 2"})
    assert Address.objects.filter(user=user).count() == 2
    # Saving the same again "as default" makes the one already there the default.
    assert services.create_address(user=user, fields=_fields(other), make_default=True) == other
    assert Address.objects.get(is_default_shipping=True) == other


def test_only_one_default_address_per_user(user):
    a, b = AddressFactory(user=user, is_default_shipping=True), AddressFactory(user=user)
    services.set_default_address(address=b)
    assert list(Address.objects.filter(is_default_shipping=True)) == [b]
    services.delete_address(address=b)
    assert Address.objects.get(pk=a.pk).is_default_shipping


def test_deleting_the_account_removes_the_user_and_their_addresses(user):
    AddressFactory(user=user)
    other = AddressFactory()
    services.delete_account(user=user)
    assert not User.objects.filter(pk=user.pk).exists()
    assert list(Address.objects.all()) == [other]


def test_a_phone_only_account_is_deleted_with_a_code_texted_to_its_number(sms_outbox):
    shopper = User.objects.create_user(phone="+8613800138000", password=None)
    AddressFactory(user=shopper)
    services.send_deletion_code(request=RF.post("/"), user=shopper)
    [message] = sms_outbox
    assert message.to == "+8613800138000" and "delete your" in message.body
    code = last_code(sms_outbox)
    with pytest.raises(CodeInvalid):
        services.delete_account_with_code(user=shopper, code=f"{(int(code) + 1) % 10**6:06d}")
    assert User.objects.filter(pk=shopper.pk).exists()
    services.delete_account_with_code(user=shopper, code=code)
    assert not User.objects.filter(pk=shopper.pk).exists()
    assert not Address.objects.exists()


def test_a_sign_in_code_does_not_delete_the_account(sms_outbox):
    shopper = User.objects.create_user(phone="+8613800138000", password=None)
    services.send_phone_code(request=RF.post("/"), phone="+8613800138000", purpose="sign-in")
    with pytest.raises(CodeExpired):  # no deletion code was asked for
        services.delete_account_with_code(user=shopper, code=last_code(sms_outbox))
    assert User.objects.filter(pk=shopper.pk).exists()


def test_deletion_codes_keep_the_limits_of_every_code(sms_outbox):
    shopper = User.objects.create_user(phone="+8613800138000", password=None)
    services.send_deletion_code(request=RF.post("/"), user=shopper)
    with pytest.raises(CodeSentTooRecently):
        services.send_deletion_code(request=RF.post("/"), user=shopper)
    code = last_code(sms_outbox)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(4):
        with pytest.raises(CodeInvalid):
            services.delete_account_with_code(user=shopper, code=wrong)
    with pytest.raises(CodeAttemptsExhausted):
        services.delete_account_with_code(user=shopper, code=wrong)
    with pytest.raises(CodeExpired):  # the right code no longer works either
        services.delete_account_with_code(user=shopper, code=code)
    assert User.objects.filter(pk=shopper.pk).exists()


def test_an_account_without_a_phone_gets_no_deletion_code(user, sms_outbox):
    with pytest.raises(NoPhoneNumber):
        services.send_deletion_code(request=RF.post("/"), user=user)
    with pytest.raises(NoPhoneNumber):
        services.delete_account_with_code(user=user, code="123456")
    assert sms_outbox == [] and User.objects.filter(pk=user.pk).exists()
