from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}


class Cart(models.Model):
    """A shopper's cart: a signed-in shopper's is tied to the account, a guest's is reached
    only through the id kept in their (server-side) session.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        related_name="cart",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
    )
    #: The coupon code the shopper entered; promotions decide whether it applies.
    coupon_code = models.CharField(_("coupon code"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")

    def __str__(self):
        return f"{_('Cart')} #{self.pk}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, related_name="lines", on_delete=models.CASCADE)
    variant = models.ForeignKey(
        "catalog.Variant", verbose_name=_("variant"), related_name="+", on_delete=models.CASCADE
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    #: Ticked lines are the ones checkout takes; unticked ones wait in the cart.
    is_selected = models.BooleanField(_("buy now"), default=True)
    #: The unit price the shopper last saw, to tell them when the price has changed.
    seen_price = models.DecimalField(_("price seen"), **MONEY)
    #: The group buy (groupbuys.Group pk) this line joins: price_cart prices it at the
    #: group's price while the shopper holds a seat. A plain id, not a foreign key: group
    #: buys live above the cart, which knows nothing of them.
    group_id = models.PositiveBigIntegerField(_("group buy"), null=True, blank=True)
    added_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="cart_line_unique_variant"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="cart_line_quantity_positive"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.variant_id}"
