"""Tax classes and the rates the merchant collects, per country, region and class, each
valid for a period. A country with at least one rate is a country the merchant collects tax
in; one without any is an export (see taxes.calculation)."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField


class TaxClass(models.Model):
    """What kind of supply a product or a shipping method is, for the rate it gets."""

    STANDARD = "standard"
    REDUCED = "reduced"
    ZERO = "zero"
    EXEMPT = "exempt"

    #: Stable name used by code and data ("standard" is what an unclassed product gets).
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    #: Exempt supplies are outside the tax: never taxed anywhere, invoices say "exempt".
    is_exempt = models.BooleanField(_("exempt"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("tax class")
        verbose_name_plural = _("tax classes")
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class TaxRateQuerySet(models.QuerySet):
    def valid_on(self, day):
        return self.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=day), valid_from__lte=day
        )


class TaxRate(models.Model):
    tax_class = models.ForeignKey(
        TaxClass, verbose_name=_("tax class"), related_name="rates", on_delete=models.PROTECT
    )
    country = CountryField(_("country"))
    #: A state or province code ("CA", "NY", "ON"); empty: the whole country. A region's rate
    #: replaces the country's for that class (enter the combined rate, e.g. GST + PST).
    region = models.CharField(
        _("region"),
        max_length=20,
        blank=True,
        help_text=_("State or province code, e.g. CA or NY; empty for the whole country."),
    )
    rate = models.DecimalField(
        _("rate (%)"),
        max_digits=6,
        decimal_places=3,
        help_text=_("Percent, e.g. 19 or 7.25; the region's combined rate where there is one."),
    )
    #: What invoices call the tax ("VAT", "Sales tax", "GST"); empty: "Tax".
    name = models.CharField(_("tax name"), max_length=40, blank=True)
    valid_from = models.DateField(_("valid from"))
    #: The first day the rate no longer applies; empty: until further notice.
    valid_until = models.DateField(
        _("valid until"), null=True, blank=True, help_text=_("Excluded; empty: no end.")
    )

    objects = TaxRateQuerySet.as_manager()

    class Meta:
        verbose_name = _("tax rate")
        verbose_name_plural = _("tax rates")
        ordering = ["country", "region", "tax_class__position", "-valid_from"]
        indexes = [models.Index(fields=["country", "region"], name="tax_rate_place")]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=100), name="tax_rate_percent"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="tax_rate_period",
            ),
        ]

    def __str__(self):
        place = f"{self.country}-{self.region}" if self.region else str(self.country)
        return f"{place} {self.tax_class}: {self.rate.normalize():f} %"

    def clean(self):
        self.region = self.region.strip().upper()
        if self.rate is not None and not (Decimal(0) <= self.rate <= Decimal(100)):
            raise ValidationError({"rate": _("A rate is a percent between 0 and 100.")})
        if self.valid_until and self.valid_from and self.valid_until <= self.valid_from:
            raise ValidationError({"valid_until": _("The end must come after the start.")})
        if not (self.country and self.tax_class_id and self.valid_from):
            return
        overlapping = TaxRate.objects.filter(
            country=self.country, region=self.region, tax_class_id=self.tax_class_id
        ).exclude(pk=self.pk)
        if self.valid_until:
            overlapping = overlapping.filter(valid_from__lt=self.valid_until)
        overlapping = overlapping.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=self.valid_from)
        )
        if overlapping.exists():
            raise ValidationError(
                _(
                    "Another rate for this place and class overlaps this period: end it "
                    "first (set its “valid until”)."
                )
            )
