"""Staff roles: auth groups holding exactly the permissions each job needs.

A merchant gives a member of staff a role by ticking "staff status" and adding them to one
of these groups (admin: Accounts → Users); what the admin then shows and allows follows the
permissions (Django's model permissions; the catalog's bulk edit asks for "change variant",
refunds and cancellations for "change order", moderation for "change review").

The groups are made on every `migrate` (a post_migrate hook, so a fresh database has them)
and by `manage.py sync_staff_roles`; both set each group's permissions to exactly the list
below, so running them again changes nothing, and a permission added to a group by hand is
taken away again. Roles are in `shop` because they span every app.
"""

from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Q

CRUD = ("add", "change", "delete", "view")


def _crud(app_label: str, *models: str) -> list[str]:
    return [f"{app_label}.{verb}_{model}" for model in models for verb in CRUD]


CATALOG_MANAGER = "Catalog manager"
ORDER_DESK = "Order desk"
SUPPORT = "Support"

#: Group name -> "app_label.codename" of every permission it holds, and nothing else.
ROLES: dict[str, list[str]] = {
    # The catalog (products, prices, stock, images), promotions and review moderation.
    # Nothing of orders or payments: no refunds, no customers' data.
    CATALOG_MANAGER: [
        *_crud(
            "catalog",
            "category",
            "brand",
            "tag",
            "optiontype",
            "optionvalue",
            "product",
            "variant",
            "specification",
            "productimage",
        ),
        "catalog.view_stockmovement",
        *_crud("promotions", "coupon", "offer", "spendtier", "membershiptier"),
        "promotions.view_couponredemption",
        "promotions.view_promotionuse",
        "promotions.view_customerspend",
        "reviews.view_review",
        "reviews.change_review",
        "reviews.reply_review",
        "taxes.view_taxclass",
        "taxes.view_taxrate",
    ],
    # Orders from payment to delivery and back: ship, deliver, cancel, returns, refunds,
    # fapiao; payments read-only except recording a refund sent by hand. The catalog and
    # customers read-only (what was ordered, where it goes), never a product edit.
    ORDER_DESK: [
        "orders.view_order",
        "orders.change_order",
        "orders.view_returnrequest",
        "orders.change_returnrequest",
        "orders.view_invoice",
        "orders.view_fapiaorequest",
        "orders.change_fapiaorequest",
        "orders.view_shippingmethod",
        "payments.view_payment",
        "payments.view_paymentevent",
        "payments.view_refund",
        "payments.change_refund",
        "catalog.view_product",
        "catalog.view_variant",
        "catalog.view_stockmovement",
        "accounts.view_user",
        "accounts.view_address",
    ],
    # Answers shoppers: reads orders, payments, customers, carts and the catalog, and
    # replies to reviews. Changes nothing else: no prices, no stock, no refunds, no
    # cancellations, no moderation.
    SUPPORT: [
        "orders.view_order",
        "orders.view_returnrequest",
        "orders.view_invoice",
        "orders.view_fapiaorequest",
        "payments.view_payment",
        "payments.view_refund",
        "accounts.view_user",
        "accounts.view_address",
        "cart.view_cart",
        "catalog.view_product",
        "catalog.view_variant",
        "reviews.view_review",
        "reviews.reply_review",
    ],
}


def role_permissions(names: list[str], *, using: str = DEFAULT_DB_ALIAS) -> list[Permission]:
    """The Permission rows of "app_label.codename" names; a name that matches none is an
    error in ROLES (a typo would silently leave a role without what it needs)."""
    query = Q()
    for name in names:
        app_label, codename = name.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.using(using).filter(query).select_related("content_type"))
    missing = set(names) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        raise ImproperlyConfigured(f"Staff roles name unknown permissions: {sorted(missing)}")
    return found


@transaction.atomic
def sync_staff_roles(*, using: str = DEFAULT_DB_ALIAS) -> list[Group]:
    """Create the role groups that are missing and give each exactly its permissions."""
    groups = []
    for name, names in ROLES.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(role_permissions(names, using=using))
        groups.append(group)
    return groups


def sync_after_migrate(sender, *, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate receiver. Django sends the signal once per app with models (the shop app
    has none), each app's permissions made by auth's receiver for that app; acting on the
    last app's signal, every permission exists."""
    with_models = [config for config in global_apps.get_app_configs() if config.models_module]
    if sender is with_models[-1]:
        sync_staff_roles(using=using)
