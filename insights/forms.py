from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from insights.periods import Period

#: The longest period the top lists and the report read at once: two years of orders is
#: already a large scan on a big shop, and nobody compares products over more.
MAX_DAYS = 731
#: The quick choices of the dashboard's top lists; 30 days is what it opens on.
QUICK_DAYS = [(7, _("7 days")), (30, _("30 days")), (90, _("90 days"))]
DEFAULT_DAYS = 30


class TopSellersForm(forms.Form):
    """A quick period ending today, or a from/to range of local days (both included)."""

    days = forms.TypedChoiceField(
        label=_("Period"),
        choices=QUICK_DAYS,
        coerce=int,
        required=False,
        empty_value=None,
        initial=DEFAULT_DAYS,
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if self.errors:
            return data
        if (start is None) != (end is None):
            raise forms.ValidationError(_("Give both dates, from and to, or neither."))
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end date is before the start date."))
            if end > self.today:
                raise forms.ValidationError(_("The end date is in the future."))
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(_("Choose at most %(days)d days.") % {"days": MAX_DAYS})
        return data

    def period(self) -> Period:
        """The period asked for; the default (30 days) when the form is not valid."""
        if self.is_bound and self.is_valid():
            data = self.cleaned_data
            if data.get("start") and data.get("end"):
                return Period(first=data["start"], last=data["end"])
            if data.get("days"):
                return Period.ending(self.today, days=data["days"])
        return Period.ending(self.today, days=DEFAULT_DAYS)
