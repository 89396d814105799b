import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Address, User
from accounts.tests.conftest import last_code
from accounts.tests.factories import PASSWORD, AddressFactory, UserFactory

pytestmark = pytest.mark.django_db

#: Budgets: session + user are 2 queries, each page adds its own few. The address list has
#: the same budget for 1 and for 30 addresses: no query per row.
PAGE_BUDGET = 6


def _login(client, identifier, password=PASSWORD, remember=False, next_url=None, ip="10.0.0.1"):
    data = {"username": identifier, "password": password}
    if remember:
        data["remember"] = "on"
    if next_url:
        data["next"] = next_url
    return client.post(reverse("accounts:login"), data, REMOTE_ADDR=ip)


def _page_basics(html: str) -> None:
    assert "<title>" in html and '<meta name="description"' in html
    assert html.count("<h1") == 1


# --- Registration and activation ---------------------------------------------------------


def test_register_page_has_labels_and_budget(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(PAGE_BUDGET):
        response = client.get(reverse("accounts:register"))
    html = response.content.decode()
    _page_basics(html)
    for name in ("email", "password", "full_name", "phone"):
        assert f'for="id_{name}"' in html


def test_registration_then_activation_link(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:register"),
            {"email": "kim@example.com", "password": PASSWORD, "full_name": "Kim"},
        )
    assert response.status_code == 302
    done = client.get(response.url)
    assert "kim@example.com" in done.content.decode()
    [message] = mail.outbox
    path = "/accounts/activate/" + message.body.split("/accounts/activate/")[1].split()[0]
    assert client.get(path).status_code == 200  # a button: link scanners do not use it up
    assert not User.objects.get(email="kim@example.com").is_active
    response = client.post(path)
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))
    assert User.objects.get(email="kim@example.com").is_active
    again = client.post(path)
    assert again.status_code == 400
    assert "already used" in again.content.decode()


def test_registering_an_existing_email_gives_the_same_response(
    client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        existing = client.post(
            reverse("accounts:register"), {"email": user.email, "password": PASSWORD}
        )
        new = client.post(
            reverse("accounts:register"), {"email": "fresh@example.com", "password": PASSWORD}
        )
    assert (existing.status_code, existing.url) == (new.status_code, new.url)
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "fresh@example.com"]


def test_a_later_registration_for_an_unactivated_address_takes_it_over_from_the_first(
    client, django_capture_on_commit_callbacks
):
    """The page answers the same for a new, a pending and an active address; the owner's
    registration replaces a stranger's pending password and only the owner's link works."""
    from django.core.cache import cache

    url = reverse("accounts:register")
    with django_capture_on_commit_callbacks(execute=True):
        squatter = client.post(url, {"email": "eve@example.com", "password": "squatter-pass-1"})
    cache.clear()  # a minute passes
    with django_capture_on_commit_callbacks(execute=True):
        owner = client.post(url, {"email": "eve@example.com", "password": PASSWORD})
    assert (squatter.status_code, squatter.url) == (owner.status_code, owner.url)
    assert owner.content == squatter.content
    first, second = (
        "/accounts/activate/" + m.body.split("/accounts/activate/")[1].split()[0]
        for m in mail.outbox
    )
    stale = client.post(first)
    assert stale.status_code == 400 and "invalid" in stale.content.decode()
    assert client.post(second).status_code == 302
    assert _login(client, "eve@example.com", password="squatter-pass-1").status_code == 200
    assert _login(client, "eve@example.com").status_code == 302


def test_registration_with_bad_input_keeps_what_was_typed(client):
    response = client.post(
        reverse("accounts:register"),
        {"email": "not-an-email", "password": "123", "full_name": "Kim Lee", "phone": "12"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a valid email address" in html
    assert "too short" in html
    assert "international form" in html
    assert 'value="Kim Lee"' in html and 'value="not-an-email"' in html
    assert User.objects.count() == 0


def test_resend_activation_page(client, django_capture_on_commit_callbacks):
    UserFactory(email="late@example.com", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:resend_activation"), {"email": "late@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and "/accounts/activate/" in mail.outbox[0].body
    bad = client.post(reverse("accounts:resend_activation"), {"email": "nope"})
    assert bad.status_code == 200 and "valid email" in bad.content.decode()


def test_activation_with_a_phone_number_leads_to_confirming_it(
    client, django_capture_on_commit_callbacks, sms_outbox
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("accounts:register"),
            {"email": "pat@example.com", "password": PASSWORD, "phone": "+44 20 7946 0958"},
        )
    path = "/accounts/activate/" + mail.outbox[0].body.split("/accounts/activate/")[1].split()[0]
    response = client.post(path)
    assert reverse("accounts:phone_change") in response.url
    _login(client, "pat@example.com")
    page = client.get(reverse("accounts:phone_change"))
    assert 'value="+442079460958"' in page.content.decode()


# --- Sign in -----------------------------------------------------------------------------


def test_login_page_budget(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(PAGE_BUDGET):
        response = client.get(reverse("accounts:login"))
    _page_basics(response.content.decode())


def test_login_by_email_or_phone_and_password(client, user):
    user.phone = "+8613800138000"
    user.save()
    assert _login(client, "Ada@Example.com").status_code == 302
    client.logout()
    assert _login(client, "+86 138 0013 8000").status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_wrong_password_shows_a_message_and_keeps_the_identifier(client, user):
    response = _login(client, "ada@example.com", password="wrong")
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not right" in html
    assert 'value="ada@example.com"' in html


def test_remember_me_controls_session_length(client, user, settings):
    _login(client, user.email, remember=False)
    assert client.session.get_expire_at_browser_close()
    client.logout()
    _login(client, user.email, remember=True)
    assert not client.session.get_expire_at_browser_close()
    assert client.session.get_expiry_age() == settings.ACCOUNT_REMEMBER_ME_DAYS * 86400


def test_session_key_rotates_on_login(client, user):
    client.get(reverse("accounts:login"))
    session = client.session
    session["probe"] = 1
    session.save()
    before = session.session_key
    _login(client, user.email)
    assert client.session.session_key != before


def test_next_redirects_within_the_shop_only(client, user):
    response = _login(client, user.email, next_url="/account/addresses/")
    assert response.url == "/account/addresses/"
    client.logout()
    response = _login(client, user.email, next_url="https://evil.example/steal")
    assert response.url == reverse("accounts:profile")
    client.logout()
    response = _login(client, user.email, next_url="//evil.example/")
    assert response.url == reverse("accounts:profile")


def test_logout_is_post_only(signed_in):
    assert signed_in.get(reverse("accounts:logout")).status_code == 405
    response = signed_in.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in signed_in.session


def test_signing_out_forgets_the_products_viewed_but_not_the_language(signed_in):
    signed_in.cookies["recently_viewed"] = "signed-value"
    signed_in.cookies["django_language"] = "zh-hans"
    response = signed_in.post(reverse("accounts:logout"))
    assert response.cookies["recently_viewed"].value == ""
    assert response.cookies["recently_viewed"]["max-age"] == 0
    assert "django_language" not in response.cookies


def test_five_failures_for_an_account_refuse_further_attempts(client, user):
    for n in range(5):
        _login(client, user.email, password="wrong", ip=f"10.0.1.{n}")
    response = _login(client, user.email, ip="10.0.2.1")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_five_failures_from_one_ip_refuse_further_attempts(client, user):
    for n in range(5):
        _login(client, f"someone{n}@example.com", password="wrong", ip="10.0.3.3")
    response = _login(client, user.email, ip="10.0.3.3")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()


def test_password_reset_works_while_locked_out(
    client, user, django_capture_on_commit_callbacks, settings
):
    for _ in range(5):
        _login(client, user.email, password="wrong")
    assert _login(client, user.email).status_code == 429
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:password_reset"), {"email": user.email})
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.alternatives[0][1] == "text/html"
    link = message.body.split(settings.SHOP_URL.rstrip("/"))[1].split()[0]
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-secret-77", "new_password2": "a-brand-new-secret-77"},
    )
    assert response.status_code == 302
    # The account's cooldown is lifted; the guessing address's own cooldown stays.
    new = _login(client, user.email, password="a-brand-new-secret-77", ip="10.0.9.9")
    assert new.status_code == 302


def test_password_reset_pages_budget(client, django_assert_max_num_queries):
    for name in ("password_reset", "password_reset_done", "password_reset_complete"):
        with django_assert_max_num_queries(PAGE_BUDGET):
            response = client.get(reverse(f"accounts:{name}"))
        assert response.status_code == 200
        _page_basics(response.content.decode())


def test_password_change(signed_in, user, django_assert_max_num_queries):
    with django_assert_max_num_queries(PAGE_BUDGET):
        assert signed_in.get(reverse("accounts:password_change")).status_code == 200
    bad = signed_in.post(
        reverse("accounts:password_change"),
        {"old_password": "wrong", "new_password1": "x", "new_password2": "y"},
    )
    assert bad.status_code == 200 and "incorrectly" in bad.content.decode()
    response = signed_in.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "another-good-secret-5",
            "new_password2": "another-good-secret-5",
        },
    )
    assert response.status_code == 302
    assert "_auth_user_id" in signed_in.session  # still signed in
    assert User.objects.get(pk=user.pk).check_password("another-good-secret-5")


# --- Phone -------------------------------------------------------------------------------


def test_phone_sign_up_and_sign_in_with_a_code(client, sms_outbox, django_assert_max_num_queries):
    with django_assert_max_num_queries(PAGE_BUDGET):
        client.get(reverse("accounts:phone_sign_in"))
    response = client.post(reverse("accounts:phone_sign_in"), {"phone": "+86 138 0013 8000"})
    assert response.url == reverse("accounts:phone_sign_in_verify")
    with django_assert_max_num_queries(PAGE_BUDGET):
        page = client.get(response.url)
    assert "+8613*****8000" in page.content.decode()
    wrong = client.post(response.url, {"code": "12345"})
    assert wrong.status_code == 200 and "six digits" in wrong.content.decode()
    done = client.post(response.url, {"code": last_code(sms_outbox)})
    assert done.status_code == 302
    user = User.objects.get(phone="+8613800138000")
    assert client.session["_auth_user_id"] == str(user.pk)
    # later: phone + password
    user.set_password(PASSWORD)
    user.save()
    client.logout()
    assert _login(client, "+8613800138000").status_code == 302


def test_phone_sign_in_with_bad_number_or_too_soon(client, sms_outbox):
    bad = client.post(reverse("accounts:phone_sign_in"), {"phone": "12345"})
    assert bad.status_code == 200 and "international form" in bad.content.decode()
    client.post(reverse("accounts:phone_sign_in"), {"phone": "+442079460958"})
    other = client.post(reverse("accounts:phone_sign_in"), {"phone": "+14155552671"})
    client.post(reverse("accounts:phone_sign_in"), {"phone": "+14155552671"})
    assert other.status_code == 302
    again = client.post(reverse("accounts:phone_sign_in_verify"), {"resend": "1"}, follow=True)
    assert "less than a minute ago" in again.content.decode()


def test_wrong_codes_are_refused_with_a_message(client, sms_outbox):
    client.post(reverse("accounts:phone_sign_in"), {"phone": "+442079460958"})
    code = last_code(sms_outbox)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    url = reverse("accounts:phone_sign_in_verify")
    for _ in range(4):
        response = client.post(url, {"code": wrong})
        assert response.status_code == 200 and "not right" in response.content.decode()
    response = client.post(url, {"code": wrong})
    assert "Too many wrong codes" in response.content.decode()
    response = client.post(url, {"code": code})
    assert "_auth_user_id" not in client.session


def test_phone_change_with_code(signed_in, user, sms_outbox):
    response = signed_in.post(reverse("accounts:phone_change"), {"phone": "+44 20 7946 0958"})
    assert response.url == reverse("accounts:phone_change_verify")
    signed_in.post(response.url, {"code": last_code(sms_outbox)})
    assert User.objects.get(pk=user.pk).phone == "+442079460958"


# --- Profile and email -------------------------------------------------------------------


def test_account_pages_need_sign_in(client):
    for name in ("profile", "address_list", "delete_account", "email_change", "password_change"):
        response = client.get(reverse(f"accounts:{name}"))
        assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_profile_page_and_edit(signed_in, user, django_assert_max_num_queries):
    with django_assert_max_num_queries(PAGE_BUDGET):
        response = signed_in.get(reverse("accounts:profile"))
    html = response.content.decode()
    _page_basics(html)
    assert reverse("accounts:address_list") in html
    response = signed_in.post(reverse("accounts:profile"), {"full_name": "Ada King"})
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).full_name == "Ada King"
    too_long = signed_in.post(reverse("accounts:profile"), {"full_name": "x" * 200})
    assert too_long.status_code == 200 and "at most 150" in too_long.content.decode()


def test_email_change_is_confirmed_by_a_link(
    signed_in, user, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    with django_assert_max_num_queries(PAGE_BUDGET):
        assert signed_in.get(reverse("accounts:email_change")).status_code == 200
    wrong = signed_in.post(
        reverse("accounts:email_change"), {"email": "ada@new.example", "password": "nope"}
    )
    assert wrong.status_code == 200 and "password is not right" in wrong.content.decode()
    assert 'value="ada@new.example"' in wrong.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(
            reverse("accounts:email_change"), {"email": "ada@new.example", "password": PASSWORD}
        )
    assert User.objects.get(pk=user.pk).email == "ada@example.com"
    [message] = mail.outbox
    assert message.to == ["ada@new.example"] and message.alternatives[0][1] == "text/html"
    path = "/accounts/email/confirm/" + message.body.split("/accounts/email/confirm/")[1].split()[0]
    assert signed_in.get(path).status_code == 200
    assert signed_in.post(path).status_code == 302
    assert User.objects.get(pk=user.pk).email == "ada@new.example"
    assert signed_in.post(path).status_code == 400


# --- Addresses ---------------------------------------------------------------------------

ADDRESS = {
    "full_name": "Ada Lovelace",
    "phone": "+44 20 7946 0958",
    "line1": "12 St James's Square",
    "line2": "",
    "city": "London",
    "region": "",
    "postcode": "sw1y 4jh",
    "country": "GB",
}


def test_address_list_budget_does_not_grow_with_rows(
    signed_in, user, django_assert_max_num_queries
):
    AddressFactory(user=user, is_default_shipping=True)
    with django_assert_max_num_queries(PAGE_BUDGET):
        one = signed_in.get(reverse("accounts:address_list"))
    AddressFactory.create_batch(30, user=user)
    with django_assert_max_num_queries(PAGE_BUDGET):
        many = signed_in.get(reverse("accounts:address_list"))
    assert one.status_code == many.status_code == 200
    _page_basics(many.content.decode())


def test_add_edit_delete_an_address(signed_in, user, django_assert_max_num_queries):
    with django_assert_max_num_queries(PAGE_BUDGET):
        assert signed_in.get(reverse("accounts:address_create")).status_code == 200
    response = signed_in.post(reverse("accounts:address_create"), ADDRESS)
    assert response.status_code == 302
    address = Address.objects.get(user=user)
    assert (address.phone, address.postcode, address.is_default_shipping) == (
        "+442079460958",
        "SW1Y 4JH",
        True,
    )
    edit = reverse("accounts:address_update", args=[address.pk])
    with django_assert_max_num_queries(PAGE_BUDGET):
        assert signed_in.get(edit).status_code == 200
    signed_in.post(edit, {**ADDRESS, "city": "Westminster"})
    assert Address.objects.get(pk=address.pk).city == "Westminster"
    delete = reverse("accounts:address_delete", args=[address.pk])
    with django_assert_max_num_queries(PAGE_BUDGET):
        assert signed_in.get(delete).status_code == 200
    signed_in.post(delete)
    assert not Address.objects.filter(pk=address.pk).exists()


def test_address_validation_keeps_what_was_typed(signed_in):
    response = signed_in.post(
        reverse("accounts:address_create"),
        {**ADDRESS, "country": "US", "postcode": "ABC", "region": "", "phone": "555"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "does not look right" in html
    assert "Choose the state." in html
    assert "international form" in html
    assert "12 St James&#x27;s Square" in html
    missing = signed_in.post(reverse("accounts:address_create"), {"country": "XX"})
    assert missing.status_code == 200 and "This field is required" in missing.content.decode()
    assert not Address.objects.exists()


def test_update_re_renders_the_form_for_the_country_keeping_what_was_typed(signed_in):
    response = signed_in.post(
        reverse("accounts:address_create"), {**ADDRESS, "country": "US", "update_country": "1"}
    )
    html = response.content.decode()
    assert response.status_code == 200 and not Address.objects.exists()
    assert '<select name="region"' in html and ">State:</label>" in html
    assert "12 St James&#x27;s Square" in html and "errorlist" not in html
    singapore = signed_in.post(
        reverse("accounts:address_create"), {**ADDRESS, "country": "SG", "update_country": "1"}
    ).content.decode()
    assert 'type="hidden" name="region"' in singapore and ">State:</label>" not in singapore


def test_set_default_address(signed_in, user):
    first = AddressFactory(user=user, is_default_shipping=True)
    second = AddressFactory(user=user)
    url = reverse("accounts:address_set_default", args=[second.pk])
    assert signed_in.get(url).status_code == 405
    signed_in.post(url)
    assert Address.objects.get(pk=second.pk).is_default_shipping
    assert not Address.objects.get(pk=first.pk).is_default_shipping


def test_another_users_address_is_a_404(signed_in):
    theirs = AddressFactory(user=UserFactory())
    for name in ("address_update", "address_delete", "address_set_default"):
        url = reverse(f"accounts:{name}", args=[theirs.pk])
        assert signed_in.get(url).status_code in (404, 405)
        assert signed_in.post(url, ADDRESS).status_code == 404
    assert Address.objects.get(pk=theirs.pk).city == "London"


# --- Deleting the account ----------------------------------------------------------------


def test_account_deletion_requires_the_password(signed_in, user, django_assert_max_num_queries):
    AddressFactory(user=user)
    with django_assert_max_num_queries(PAGE_BUDGET):
        assert signed_in.get(reverse("accounts:delete_account")).status_code == 200
    wrong = signed_in.post(reverse("accounts:delete_account"), {"password": "nope"})
    assert wrong.status_code == 200 and "password is not right" in wrong.content.decode()
    assert User.objects.filter(pk=user.pk).exists()
    signed_in.cookies["recently_viewed"] = "signed-value"
    response = signed_in.post(reverse("accounts:delete_account"), {"password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies["recently_viewed"]["max-age"] == 0
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Address.objects.exists()
    assert "_auth_user_id" not in signed_in.session


def test_header_shows_account_links(client, user):
    html = client.get(reverse("accounts:login")).content.decode()
    assert reverse("accounts:register") in html
    client.force_login(user)
    html = client.get(reverse("accounts:profile")).content.decode()
    assert 'action="/accounts/logout/"' in html


def test_merchant_sees_addresses_in_the_admin(client, user, django_assert_max_num_queries):
    AddressFactory.create_batch(3, user=user)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    with django_assert_max_num_queries(10):
        response = client.get(reverse("admin:accounts_address_changelist"))
    assert response.status_code == 200
    assert client.get(reverse("admin:accounts_user_change", args=[user.pk])).status_code == 200


@pytest.fixture
def phone_only(client):
    shopper = User.objects.create_user(phone="+8613800138000", password=None)
    client.force_login(shopper)
    return shopper


def test_a_phone_only_account_deletes_itself_with_a_texted_code(
    client, phone_only, sms_outbox, django_assert_max_num_queries
):
    AddressFactory(user=phone_only)
    url = reverse("accounts:delete_account")
    with django_assert_max_num_queries(PAGE_BUDGET):
        page = client.get(url)
    html = page.content.decode()
    _page_basics(html)
    assert "+8613*****8000" in html and 'name="send"' in html and 'name="code"' not in html
    sent = client.post(url, {"send": "1"})
    assert sent.status_code == 302 and sent.url == url
    assert len(sms_outbox) == 1 and "delete your" in sms_outbox[0].body
    with django_assert_max_num_queries(PAGE_BUDGET):
        html = client.get(url).content.decode()
    assert 'for="id_code"' in html and 'name="resend"' in html
    code = last_code(sms_outbox)
    wrong = client.post(url, {"code": f"{(int(code) + 1) % 10**6:06d}"})
    assert wrong.status_code == 200 and "not right" in wrong.content.decode()
    assert User.objects.filter(pk=phone_only.pk).exists()
    done = client.post(url, {"code": code})
    assert done.status_code == 302 and done.url == reverse("home")
    assert not User.objects.filter(pk=phone_only.pk).exists()
    assert not Address.objects.exists()
    assert "_auth_user_id" not in client.session


def test_deleting_by_code_with_bad_input_says_why_and_deletes_nothing(
    client, phone_only, sms_outbox
):
    url = reverse("accounts:delete_account")
    client.post(url, {"send": "1"})
    malformed = client.post(url, {"code": "12ab"})
    assert malformed.status_code == 200 and "six digits" in malformed.content.decode()
    assert 'value="12ab"' in malformed.content.decode()  # what was typed stays
    too_soon = client.post(url, {"resend": "1"})
    assert too_soon.status_code == 429 and "less than a minute" in too_soon.content.decode()
    twice = client.post(url, {"send": "1"})  # the first button sent again: no error
    assert twice.status_code == 302 and len(sms_outbox) == 1
    empty = client.post(url, {"code": ""})
    assert empty.status_code == 200 and "This field is required" in empty.content.decode()
    assert User.objects.filter(pk=phone_only.pk).exists()


def test_an_expired_deletion_code_asks_for_a_new_one(client, phone_only, sms_outbox):
    from django.core.cache import cache

    url = reverse("accounts:delete_account")
    client.post(url, {"send": "1"})
    code = last_code(sms_outbox)
    cache.clear()  # five minutes pass: the code is gone
    response = client.post(url, {"code": code})
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert User.objects.filter(pk=phone_only.pk).exists()


def test_an_account_with_a_password_still_confirms_with_it(signed_in, user, sms_outbox):
    user.phone = "+8613800138000"
    user.save()
    url = reverse("accounts:delete_account")
    assert 'name="password"' in signed_in.get(url).content.decode()
    response = signed_in.post(url, {"send": "1"})
    assert response.status_code == 200 and sms_outbox == []
    assert User.objects.filter(pk=user.pk).exists()
