"""gunicorn's settings from the shop's folder (`gunicorn shop.wsgi` reads this file itself).

Workers, timeout and bind stay on the command line (README "Deploying").
"""


def post_worker_init(worker):
    """Load the listing index (catalog.facets) as a worker starts, so that no shopper's
    listing waits for it (about a second at 100,000 products)."""
    from django.db import DatabaseError, connections

    from catalog import facets

    try:
        facets.current_index()
    except DatabaseError:
        worker.log.exception("Listing index not loaded at start: the first listing loads it")
    finally:
        connections.close_all()
