from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from shop.countries import country_name


def normalize_email(email: str | None) -> str | None:
    """One spelling per address: trimmed and lower-cased, so lookups can use the index."""
    if not email:
        return None
    return email.strip().lower()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email=normalize_email(email))

    def create_user(self, email=None, password=None, **fields):
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A shopper or a member of staff. The email address is the login.

    A shopper may sign up with a phone number instead, so email may be empty; at least one
    of the two identifies every user.
    """

    email = models.EmailField(_("email address"), unique=True, null=True, blank=True)
    #: In E.164 form (+8613800138000), set once the number is confirmed.
    phone = models.CharField(_("phone number"), max_length=16, unique=True, null=True, blank=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    is_staff = models.BooleanField(
        _("staff status"),
        default=False,
        help_text=_("Whether the user can sign in to the merchant admin."),
    )
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Unticked for accounts not activated yet, or closed."),
    )
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # Guards the rule even where a write skips normalize_email().
            models.UniqueConstraint(Lower("email"), name="user_email_case_insensitive_unique"),
            models.CheckConstraint(
                condition=Q(email__isnull=False) | Q(phone__isnull=False),
                name="user_has_email_or_phone",
            ),
        ]

    def __str__(self):
        return self.email or self.phone or f"#{self.pk}"

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)

    def get_full_name(self):
        return self.full_name or str(self)

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else str(self)


#: What an address's label shows: label_lines()' arguments.
LABEL_FIELDS = ("full_name", "line1", "line2", "city", "region", "postcode", "country")


def label_lines(
    *, full_name: str, line1: str, line2: str, city: str, region: str, postcode: str, country
) -> list[str]:
    """An address as printed on a label (Address.lines(); the checkout's review shows one
    that is in no address book as it, without making an Address for it). `country`: an ISO
    code or a Country."""
    if str(country) in {"US", "CA", "AU"}:  # "Arlington, VA 22202"
        tail = " ".join(part for part in (region, postcode) if part)
        city_line = ", ".join(part for part in (city, tail) if part)
        region = ""
    else:  # "SW1Y 4JH London", region on its own line
        city_line = " ".join(part for part in (postcode, city) if part)
    return [
        line for line in (full_name, line1, line2, city_line, region, country_name(country)) if line
    ]


class Address(models.Model):
    """A postal address in a user's address book; checkout copies it into the order.

    At most one address per user is the default for shipping (a partial unique constraint).
    """

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="addresses", verbose_name=_("user")
    )
    full_name = models.CharField(_("full name"), max_length=150)
    #: E.164, for the courier.
    phone = models.CharField(_("phone number"), max_length=16)
    line1 = models.CharField(_("address line 1"), max_length=200)
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city or town"), max_length=100)
    region = models.CharField(_("state, province or region"), max_length=100, blank=True)
    postcode = models.CharField(_("postcode"), max_length=12, blank=True)
    country = CountryField(_("country"))
    is_default_shipping = models.BooleanField(_("default shipping address"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["-is_default_shipping", "-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "-created_at"], name="address_user_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(is_default_shipping=True),
                name="address_one_default_shipping_per_user",
            ),
        ]

    def __str__(self):
        return ", ".join(
            part
            for part in (self.full_name, self.line1, self.city, self.postcode, str(self.country))
            if part
        )

    def lines(self) -> list[str]:
        """The address as printed on a label."""
        return label_lines(**{name: getattr(self, name) for name in LABEL_FIELDS})
