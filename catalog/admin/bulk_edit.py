"""Edit the prices and stock of chosen variants at once, with a confirmation page.

The Variant list's action (the selected variants) and the Product list's action (all
variants of the selected products) both lead here with the variants' ids in the URL. The
page takes a price change and a stock adjustment, then shows each variant's price and
stock before → after; only "Apply" writes, through catalog.services.edit_variants(): all or
nothing in one transaction, stock only as movements, prices re-checked against the preview.
"""

from decimal import Decimal, InvalidOperation

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from catalog import services
from catalog.forms import BulkVariantEditForm
from catalog.models import OptionValue, Variant

#: At most this many variants per bulk edit: the ids travel in the URL, and a confirmation
#: page listing more rows than a person reads confirms nothing. Two pages of the variant list
#: at its largest (100 a page, Django's "select all" across pages can mean 50,000).
BULK_EDIT_MAX = 200


def has_bulk_edit_permission(request) -> bool:
    """Changing a variant's price or stock is changing the variant."""
    return request.user.has_perm("catalog.change_variant")


#: Option values in the order the product page names them: "Red / M".
OPTION_ORDER = OptionValue.objects.order_by(
    "option_type__position", "option_type__name", "position"
)

#: Where "Cancel" and a done edit lead: the list the action was chosen on.
BACK_TO = {
    "variants": ("admin:catalog_variant_changelist", "?level=all"),
    "products": ("admin:catalog_product_changelist", ""),
}


def _back_url(name: str) -> str:
    view, query = BACK_TO.get(name, BACK_TO["variants"])
    return reverse(view) + query


def redirect_to_bulk_edit(model_admin, request, variant_ids: list[int], *, back: str):
    """What the list actions return: the bulk edit page for these variants, or the list
    again with a message when there are none or too many."""
    if not variant_ids:
        model_admin.message_user(request, _("The selection has no variants."), messages.WARNING)
        return None
    if len(variant_ids) > BULK_EDIT_MAX:
        model_admin.message_user(
            request,
            _("%(count)d variants selected: edit at most %(max)d at a time.")
            % {"count": len(variant_ids), "max": BULK_EDIT_MAX},
            messages.ERROR,
        )
        return None
    url = reverse("admin:catalog_variant_bulk_edit")
    query = urlencode({"ids": ",".join(map(str, variant_ids)), "back": back})
    return HttpResponseRedirect(f"{url}?{query}")


def _ids(text: str) -> list[int] | None:
    try:
        ids = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        return None
    return ids if 0 < len(ids) <= BULK_EDIT_MAX and all(pk > 0 for pk in ids) else None


def _expected_prices(text: str) -> dict[int, Decimal]:
    """The prices the preview showed, posted back as "id:price,..."; anything unreadable
    reads as no price, which the service then reports as changed."""
    prices = {}
    for part in text.split(","):
        pk, _sep, price = part.partition(":")
        try:
            value = Decimal(price)
            if value.is_finite():
                prices[int(pk)] = value
        except (ValueError, InvalidOperation):
            continue
    return prices


class VariantBulkEdit:
    """For the Variant admin: the action on its list and the page (`bulk-edit/`)."""

    def get_urls(self):
        return [
            path(
                "bulk-edit/",
                self.admin_site.admin_view(self.bulk_edit_view),
                name="catalog_variant_bulk_edit",
            ),
            *super().get_urls(),
        ]

    def has_bulk_edit_permission(self, request) -> bool:
        return has_bulk_edit_permission(request)

    @admin.action(
        description=gettext_lazy("Edit prices and stock of the selected variants"),
        permissions=["bulk_edit"],
    )
    def bulk_edit(self, request, queryset):
        return redirect_to_bulk_edit(
            self,
            request,
            list(queryset.order_by("pk").values_list("pk", flat=True)),
            back="variants",
        )

    def _apply(self, request, form, variants) -> list | None:
        """Apply the confirmed edit; None (with the reasons on the form) if it was refused."""
        try:
            done = services.edit_variants(
                variant_ids=[variant.pk for variant in variants],
                price=form.price_change(),
                stock_delta=form.stock_delta_value(),
                reason=form.cleaned_data["stock_reason"],
                note=form.cleaned_data["note"],
                actor=request.user,
                expected_prices=_expected_prices(request.POST.get("expected", "")),
            )
        except services.BulkEditRefused as refused:
            for problem in refused.problems:
                form.add_error(None, problem)
            return None
        except services.StockError as error:  # a sale in between, caught by the ledger
            form.add_error(None, error.message)
            return None
        self.message_user(
            request,
            ngettext("%(count)d variant changed.", "%(count)d variants changed.", len(done))
            % {"count": len(done)},
            messages.SUCCESS,
        )
        return done

    def bulk_edit_view(self, request):
        if not has_bulk_edit_permission(request):
            raise PermissionDenied
        source = request.POST if request.method == "POST" else request.GET
        ids = _ids(source.get("ids", ""))
        back = source.get("back", "") if source.get("back") in BACK_TO else "variants"
        changelist = _back_url(back)
        if ids is None:
            self.message_user(
                request,
                _("Choose between 1 and %(max)d variants on the list first.")
                % {"max": BULK_EDIT_MAX},
                messages.ERROR,
            )
            return HttpResponseRedirect(changelist)
        variants = list(
            Variant.objects.filter(pk__in=ids)
            .select_related("product")
            .prefetch_related(Prefetch("option_values", queryset=OPTION_ORDER))
            .order_by("product__name", "product_id", "position", "pk")
        )
        if not variants:
            self.message_user(request, _("These variants no longer exist."), messages.ERROR)
            return HttpResponseRedirect(changelist)
        form = BulkVariantEditForm(request.POST if request.method == "POST" else None)
        rows = None
        if request.method == "POST" and form.is_valid() and "edit" not in request.POST:
            if "apply" in request.POST:
                done = self._apply(request, form, variants)
                if done is not None:
                    return HttpResponseRedirect(changelist)
            else:
                rows = services.plan_variant_edit(
                    variants=variants,
                    price=form.price_change(),
                    stock_delta=form.stock_delta_value(),
                )
                for problem in (row.problem for row in rows if row.problem):
                    form.add_error(None, problem)
                rows = rows if form.is_valid() else None
        status = 400 if form.is_bound and form.errors else 200
        title = _("Edit prices and stock")
        return TemplateResponse(
            request,
            "catalog/admin/bulk_edit.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "subtitle": None,
                "opts": self.model._meta,
                "form": form,
                "variants": variants,
                "rows": rows,
                "ids": ",".join(str(variant.pk) for variant in variants),
                "expected": ",".join(f"{row.variant.pk}:{row.price_before}" for row in rows or []),
                "changelist_url": changelist,
                "back": back,
                "media": self.media + form.media,
            },
            status=status,
        )
