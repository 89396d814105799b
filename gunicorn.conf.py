"""gunicorn's settings from the shop's folder (`gunicorn shop.wsgi` reads this file itself).

Workers, timeout and bind stay on the command line (README "Deploying").
"""

import gc

#: Python's collector starts a young-generation pass every GC_THRESHOLD[0] new container
#: objects (Python's default: 700, a few dozen passes in one checkout request). Ten times
#: that, and what a worker loaded at start frozen out of every pass: under the purchase
#: bench the collector's CPU per order halved and its longest pause in a worker went from
#: 86-113 ms (the first full pass over everything loaded at start) to 3-6 ms.
GC_THRESHOLD = (7000, 20, 20)


def post_worker_init(worker):
    """Load the listing index (catalog.facets) as a worker starts, so that no shopper's
    listing waits for it (about a second at 100,000 products); then keep the collector off
    what was loaded (GC_THRESHOLD)."""
    from django.db import DatabaseError, connections

    from catalog import facets

    try:
        facets.current_index()
    except DatabaseError:
        worker.log.exception("Listing index not loaded at start: the first listing loads it")
    finally:
        connections.close_all()
    settle_collector()


def settle_collector() -> None:
    """Move everything alive now (modules, templates, the listing index: kept for the
    worker's life or freed by reference counting, none held in cycles) out of the collector's
    passes, and make the young generation's passes rarer (GC_THRESHOLD)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
