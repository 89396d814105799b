"""Input validation of the account pages. Every message is translatable and shown inline."""

import re
from functools import cache

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, SetPasswordMixin
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.core.exceptions import ValidationError
from django.db.models import BLANK_CHOICE_DASH
from django.urls import reverse
from django.utils.choices import BaseChoiceIterator
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from accounts import address_rules, services
from accounts.errors import LoginThrottled
from accounts.mails import queue_mail
from accounts.models import Address, User, normalize_email
from accounts.phone import normalize_phone
from shop.forms import CopiesChangedFields


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


class KeptSelect(forms.Select):
    """A select whose HTML is kept in the process once rendered, per choices, value,
    attributes and language. The country list is some 250 options, each an included
    template: about 17 ms of CPU, most of the checkout page's rendering, for HTML that is
    the same whenever the same country is chosen. The key holds everything the HTML is made
    of, so a kept one is never another select's."""

    #: Rendered selects kept (a few countries times two languages in practice); a bound
    #: form's value is what the visitor sent, so the store is emptied when it grows past this.
    KEPT = 512
    _kept: dict[tuple, str] = {}

    def render(self, name, value, attrs=None, renderer=None):
        key = (
            self.template_name,
            self.option_template_name,
            name,
            tuple(self.format_value(value)),
            tuple(sorted((k, str(v)) for k, v in self.build_attrs(self.attrs, attrs).items())),
            tuple(_flat_choices(self.choices)),
            get_language(),
            type(renderer),
        )
        html = self._kept.get(key)
        if html is None:
            html = super().render(name, value, attrs, renderer)
            if len(self._kept) >= self.KEPT:
                self._kept.clear()
            self._kept[key] = html
        return html


def _flat_choices(choices):
    for value, label in choices:
        if isinstance(label, list | tuple):  # a group: its name, then its options
            yield str(value), tuple(_flat_choices(label))
        else:
            yield str(value), str(label)


class CountryChoices(BaseChoiceIterator):
    """django-countries' list in the active language, the blank choice first, as a model
    form offers a CountryField: made once per language (countries_in). Django's lazy
    choices went through the 250 countries again, normalising each, whenever the form was
    copied, rendered or validated: most of a posted checkout's CPU."""

    def __iter__(self):
        return iter(countries_in(get_language()))

    def __deepcopy__(self, memo):
        return self  # nothing of a form's own: every copy reads the same lists


@cache
def countries_in(language: str | None) -> tuple[tuple[str, str], ...]:
    """The country choices in `language` (the active one: django-countries translates and
    sorts by it)."""
    return (*BLANK_CHOICE_DASH, *((code, name) for code, name in countries))


@cache
def country_codes() -> frozenset[str]:
    return frozenset(code for code, _name in countries)


class CountryChoiceField(forms.TypedChoiceField):
    """A country code, checked against django-countries' codes by one set lookup."""

    def __init__(self, **kwargs):
        super().__init__(choices=CountryChoices(), **kwargs)

    def valid_value(self, value) -> bool:
        return str(value) in country_codes()


class AddressForm(CopiesChangedFields, forms.ModelForm):
    """An address as the post of its country wants it (accounts.address_rules): the region
    is a list of that country's states or provinces, or not asked where the post has none,
    and the postcode must have the country's shape. Country comes first: the other fields
    follow it (re-rendered for the country chosen, see `updating_country`). Only the fields
    the country's rules change are copied for each form (shop.forms)."""

    changed_fields = ("city", "region", "postcode")

    country = CountryChoiceField(
        label=capfirst(Address._meta.get_field("country").verbose_name),
        widget=KeptSelect(attrs={"autocomplete": "country", "data-address-country": ""}),
    )
    phone = PhoneField(
        label=_("Phone number"), help_text=_("For the courier, with the country code.")
    )
    make_default = forms.BooleanField(label=_("Use as my default shipping address"), required=False)

    #: The name of the "Update" button that re-renders the form for the country chosen
    #: (without JavaScript; with it the fields switch in place through the same request).
    UPDATE_COUNTRY = "update_country"

    class Meta:
        model = Address
        fields = ["country", "full_name", "line1", "line2", "city", "region", "postcode", "phone"]
        widgets = {
            "full_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "line1": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "line2": forms.TextInput(attrs={"autocomplete": "address-line2"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "postcode": forms.TextInput(attrs={"autocomplete": "postal-code"}),
        }
        labels = {"line2": _("Apartment, suite, etc.")}
        help_texts = {"line1": _("Street and house number, or PO box.")}

    def __init__(
        self, *args, show_make_default: bool = True, browser_checks: bool = True, **kwargs
    ):
        super().__init__(*args, **kwargs)
        # Off where the fields may be left empty on purpose (a saved address chosen instead).
        self.use_required_attribute = browser_checks
        if not show_make_default:
            del self.fields["make_default"]
        self.country_code = self._country_code()
        self.rules = address_rules.rules_for(self.country_code, get_language() or "en")
        self._follow_rules()

    def _get_validation_exclusions(self):
        # The country was checked by its form field against the same codes: the model
        # field would go through its 250 choices again.
        return {*super()._get_validation_exclusions(), "country"}

    def _country_code(self) -> str:
        if self.is_bound:
            return str(self.data.get(self.add_prefix("country"), "")).strip().upper()
        country = self.initial.get("country") or (self.instance.country if self.instance.pk else "")
        return str(country or settings.ADDRESS_DEFAULT_COUNTRY).upper()

    def _follow_rules(self) -> None:
        rules, fields = self.rules, self.fields
        self.initial.setdefault("country", self.country_code)
        fields["city"].required = rules.needs_city
        fields["city"].error_messages["required"] = _("Enter the city or town.")
        postcode = fields["postcode"]
        postcode.required, postcode.label = rules.needs_postcode, rules.postcode_label
        postcode.error_messages["required"] = _(
            "Enter the postcode: the post needs it for this country."
        )
        if rules.postcode_example:
            postcode.help_text = _("For example %(example)s.") % {"example": rules.postcode_example}
        if pattern := rules.postcode_html_pattern:
            postcode.widget.attrs["pattern"] = pattern
        region = fields["region"]
        region.label, region.required = rules.region_label, rules.needs_region
        region.error_messages["required"] = _("Choose the %(region)s.") % {
            "region": str(rules.region_label).lower()
        }
        if rules.regions:
            region.widget = KeptSelect(
                choices=[("", _("Choose…")), *rules.regions],
                attrs={"autocomplete": "address-level1"},
            )
        else:
            region.widget = forms.TextInput(attrs={"autocomplete": "address-level1"})
        # Fields the country's post does not use are not asked (sent empty).
        for name, shown in (
            ("city", rules.shows_city),
            ("region", rules.shows_region),
            ("postcode", rules.shows_postcode),
        ):
            if not shown:
                self.fields[name].required = False
                self.fields[name].widget = forms.HiddenInput()

    @property
    def updating_country(self) -> bool:
        """The shopper asked for the fields of another country, not to save."""
        return self.is_bound and self.UPDATE_COUNTRY in self.data

    def for_new_country(self) -> "AddressForm":
        """The form again, unbound, for the country just chosen, with everything typed kept
        (the answer to "Update": no errors under fields the shopper has not reached)."""
        return type(self)(
            prefix=self.prefix,
            instance=self.instance,
            show_make_default="make_default" in self.fields,
            browser_checks=self.use_required_attribute,
            initial={name: self.data.get(self.add_prefix(name), "") for name in self.fields},
        )

    def clean_postcode(self):
        return " ".join(self.cleaned_data["postcode"].upper().split())

    def clean(self):
        cleaned = super().clean()
        for name in ("full_name", "line1", "line2", "city", "region"):
            if isinstance(cleaned.get(name), str):
                cleaned[name] = " ".join(cleaned[name].split())
        if not cleaned.get("country"):
            return cleaned
        rules = self.rules
        for name, shown in (
            ("city", rules.shows_city),
            ("region", rules.shows_region),
            ("postcode", rules.shows_postcode),
        ):
            if not shown:
                cleaned[name] = ""
        postcode = cleaned.get("postcode", "")
        if postcode and not rules.postcode_fits(postcode):
            self.add_error(
                "postcode",
                _("This postcode does not look right for the country chosen, e.g. %(example)s.")
                % {"example": rules.postcode_example}
                if rules.postcode_example
                else _("This postcode does not look right for the country chosen."),
            )
        region = cleaned.get("region", "")
        if region and rules.regions:
            value = rules.region_value(region)
            if value is None:
                self.add_error(
                    "region",
                    _("Choose the %(region)s from the list for this country.")
                    % {"region": str(rules.region_label).lower()},
                )
            else:
                cleaned["region"] = value
        return cleaned
