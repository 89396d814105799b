"""Input validation of the account pages. Every message is translatable and shown inline."""

import re

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, SetPasswordMixin
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.errors import LoginThrottled
from accounts.mails import queue_mail
from accounts.models import Address, User, normalize_email
from accounts.phone import normalize_phone


class PhoneField(forms.CharField):
    """A phone number, cleaned to E.164."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}))
        kwargs.setdefault(
            "help_text", _("With the country code, e.g. +44 20 7946 0958 or +86 138 0013 8000.")
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        return normalize_phone(value) if value else value


def _password_widget(autocomplete: str) -> forms.PasswordInput:
    return forms.PasswordInput(attrs={"autocomplete": autocomplete})


class RegistrationForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=_password_widget("new-password"),
        help_text=password_validation.password_validators_help_text_html(),
    )
    full_name = forms.CharField(
        label=_("Full name"),
        required=False,
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        help_text=_("Optional."),
    )
    phone = PhoneField(
        label=_("Phone number"),
        required=False,
        help_text=_(
            "Optional. With the country code, e.g. +44 20 7946 0958. We text you a code to "
            "confirm it after activation."
        ),
    )

    def clean_email(self):
        return normalize_email(self.cleaned_data["email"])

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            probe = User(email=cleaned.get("email"), full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password, probe)
            except ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class PasswordOnlyRegistrationForm(SetPasswordMixin, forms.Form):
    """Registration where the address is already known (a guest's order): a password, twice,
    checked by the project's password validators against that address and name."""

    password1, password2 = SetPasswordMixin.create_password_fields(
        label1=_("Choose a password"), label2=_("Repeat the password")
    )

    def __init__(self, *args, email: str, full_name: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.email = normalize_email(email)
        self.full_name = full_name

    def clean(self):
        self.validate_passwords()
        self.validate_password_for_user(User(email=self.email, full_name=self.full_name))
        return super().clean()


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class SignInForm(AuthenticationForm):
    """Email or phone number + password, with throttling and "remember me"."""

    username = forms.CharField(
        label=_("Email or phone number"),
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"), strip=False, widget=_password_widget("current-password")
    )
    remember = forms.BooleanField(
        label=_("Remember me"),
        required=False,
        help_text=_(
            "Stay signed in on this device for %(days)s days. Leave unticked on a shared "
            "computer: you are signed out when the browser closes."
        ),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "The email, phone number or password is not right. If you registered recently, "
            "activate your account with the link we emailed you first."
        ),
    }

    def __init__(self, request=None, *args, remember_days: int = 30, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("Email or phone number")
        self.fields["remember"].help_text = self.fields["remember"].help_text % {
            "days": remember_days
        }

    def clean(self):
        identifier = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if identifier and password:
            try:
                self.user_cache = services.authenticate_with_password(
                    request=self.request,
                    identifier=identifier,
                    password=password,
                )
            except LoginThrottled as exc:
                raise ValidationError(exc.message, code="throttled") from None
            except services.InvalidCredentials:
                raise self.get_invalid_login_error() from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class PhoneForm(forms.Form):
    phone = PhoneField(label=_("Phone number"))


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Six-digit code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*"}
        ),
        help_text=_("The code in the text message we just sent."),
    )

    def clean_code(self):
        code = re.sub(r"\s", "", self.cleaned_data["code"])
        if not re.fullmatch(r"\d{6}", code):
            raise ValidationError(_("Enter the six digits of the code."), code="format")
        return code


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["full_name"]
        widgets = {"full_name": forms.TextInput(attrs={"autocomplete": "name"})}


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        label=_("New email address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label=_("Current password"), strip=False, widget=_password_widget("current-password")
    )

    def __init__(self, *args, user: User, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_email(self):
        email = normalize_email(self.cleaned_data["email"])
        if email == self.user.email:
            raise ValidationError(_("This is already your email address."), code="same")
        return email

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError(_("Your password is not right."), code="password_incorrect")
        return password


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"), strip=False, widget=_password_widget("current-password")
    )

    def __init__(self, *args, user: User, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError(_("Your password is not right."), code="password_incorrect")
        return password


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's reset form, its mail sent by our Celery task in the shop's look."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        path = reverse(
            "accounts:password_reset_confirm",
            kwargs={"uidb64": context["uid"], "token": context["token"]},
        )
        queue_mail(
            name="password_reset",
            to=to_email,
            context={
                "name": context["user"].get_short_name(),
                # SHOP_URL, never the request's Host header: a forged Host would send the
                # owner a link to someone else's site with a valid reset token in it.
                "url": f"{settings.SHOP_URL.rstrip('/')}{path}",
            },
        )


# --- Addresses ---------------------------------------------------------------------------

#: Postcode shapes for the countries most orders go to; others get a generic check.
POSTCODE_PATTERNS = {
    "US": r"\d{5}(-\d{4})?",
    "CA": r"[A-Z]\d[A-Z] ?\d[A-Z]\d",
    "GB": r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}",
    "CN": r"\d{6}",
    "DE": r"\d{5}",
    "FR": r"\d{5}",
    "IT": r"\d{5}",
    "ES": r"\d{5}",
    "NL": r"\d{4} ?[A-Z]{2}",
    "AU": r"\d{4}",
    "JP": r"\d{3}-?\d{4}",
    "IN": r"\d{6}",
    "BR": r"\d{5}-?\d{3}",
}
#: Countries whose post will not deliver without a postcode ... (most of the world).
POSTCODE_OPTIONAL = {"HK", "IE", "AE", "QA", "PA", "JM", "BS", "FJ", "GH", "AO", "BO", "ZW"}
#: ... and where a state or province is part of the address.
REGION_REQUIRED = {"US", "CA", "AU", "CN", "BR", "MX", "IN", "JP"}
GENERIC_POSTCODE = r"[A-Z0-9][A-Z0-9 \-]{1,10}"


class AddressForm(forms.ModelForm):
    phone = PhoneField(
        label=_("Phone number"), help_text=_("For the courier, with the country code.")
    )
    make_default = forms.BooleanField(label=_("Use as my default shipping address"), required=False)

    class Meta:
        model = Address
        fields = ["full_name", "phone", "line1", "line2", "city", "region", "postcode", "country"]
        widgets = {
            "full_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "line1": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "line2": forms.TextInput(attrs={"autocomplete": "address-line2"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "region": forms.TextInput(attrs={"autocomplete": "address-level1"}),
            "postcode": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "country": forms.Select(attrs={"autocomplete": "country"}),
        }
        help_texts = {
            "line1": _("Street and house number, or PO box."),
            "line2": _("Apartment, suite, floor (optional)."),
            "region": _(
                "Required in the US, Canada, Australia, China, Brazil, Mexico, India, Japan."
            ),
        }

    def __init__(self, *args, show_make_default: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not show_make_default:
            del self.fields["make_default"]

    def clean_postcode(self):
        return " ".join(self.cleaned_data["postcode"].upper().split())

    def clean(self):
        cleaned = super().clean()
        for name in ("full_name", "line1", "line2", "city", "region"):
            if isinstance(cleaned.get(name), str):
                cleaned[name] = " ".join(cleaned[name].split())
        country = cleaned.get("country")
        if not country:
            return cleaned
        code = str(country)
        postcode = cleaned.get("postcode", "")
        if not postcode and code not in POSTCODE_OPTIONAL:
            self.add_error("postcode", _("Enter the postcode: the post needs it for this country."))
        elif postcode and not re.fullmatch(POSTCODE_PATTERNS.get(code, GENERIC_POSTCODE), postcode):
            self.add_error(
                "postcode", _("This postcode does not look right for the country chosen.")
            )
        if code in REGION_REQUIRED and not cleaned.get("region"):
            self.add_error("region", _("Enter the state, province or region for this country."))
        return cleaned
