"""Catalog reads on a read replica (DATABASE_REPLICA_URL): a database router and the
middleware that says which requests may use it.

Only a GET or HEAD of a catalog page (home, listings, product pages, search and its
suggestions) reads from the replica, and only the catalog's own rows (catalog, reviews,
promotions, taxes): sessions, users, carts, orders and payments are always read from the
primary, so a shopper who just signed in or added to the cart sees it at once. Everything
else (POSTs, checkout, accounts, the admin, commands, Celery) never touches the replica.
Inside such a request, once anything is written or a transaction is open on the primary,
the rest of the request reads from the primary too: a read right after a write sees it.
"""

from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"
#: Apps whose rows a catalog page may read from the replica (slightly behind is harmless).
CATALOG_APPS = {"catalog", "reviews", "promotions", "taxes"}
#: Shopper pages that only read the catalog (URL names, namespaced as resolved).
CATALOG_PAGES = {
    "home",
    "catalog:products",
    "catalog:category",
    "catalog:product",
    "catalog:search",
    "catalog:search-suggest",
}

_replica_allowed: ContextVar[bool] = ContextVar("replica_allowed", default=False)


class CatalogReadsFromReplica:
    """Middleware: lets the router use the replica for the request's view when the view is
    one of CATALOG_PAGES and the method only reads."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _replica_allowed.set(False)
        try:
            return self.get_response(request)
        finally:
            _replica_allowed.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method in ("GET", "HEAD") and request.resolver_match.view_name in CATALOG_PAGES:
            _replica_allowed.set(True)


class ReplicaRouter:
    """Reads of the catalog's rows from the replica where the middleware allows it; every
    write, and every other read, on the primary. Migrations run on the primary only (the
    replica copies them)."""

    def db_for_read(self, model, **hints):
        if (
            _replica_allowed.get()
            and model._meta.app_label in CATALOG_APPS
            and not connections[DEFAULT_DB_ALIAS].in_atomic_block
        ):
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        _replica_allowed.set(False)  # what follows in this request reads what was written
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one set of rows, two copies

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
