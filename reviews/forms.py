from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from reviews.models import BODY_MAX, TITLE_MAX
from reviews.selectors import DEFAULT_SORT

RATING_CHOICES = [
    (5, _("5 stars: excellent")),
    (4, _("4 stars: good")),
    (3, _("3 stars: fair")),
    (2, _("2 stars: poor")),
    (1, _("1 star: bad")),
]
SORT_LABELS = {
    "newest": _("Newest"),
    "highest": _("Highest rating"),
    "lowest": _("Lowest rating"),
    "helpful": _("Most helpful"),
}


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Your rating"),
        choices=RATING_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose a rating from 1 to 5 stars.")},
    )
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX, required=False)
    body = forms.CharField(
        label=_("Your review"),
        max_length=BODY_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=format_lazy(_("Plain text, up to {n} characters."), n=BODY_MAX),
    )


class ReviewListForm(forms.Form):
    """The reviews page's query string; anything unknown falls back to the defaults."""

    sort = forms.ChoiceField(label=_("Sort by"), choices=list(SORT_LABELS.items()), required=False)

    def chosen_sort(self) -> str:
        if self.is_valid() and self.cleaned_data["sort"]:
            return self.cleaned_data["sort"]
        return DEFAULT_SORT
