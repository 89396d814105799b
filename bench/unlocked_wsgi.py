"""The control of bench/chaos.py's "200 buyers for 10 units": the shop with its stock guards
taken out, served only by that harness (gunicorn unlocked_wsgi:application), never by the shop.

It proves the harness can fail: with the variant rows read without a lock and the stock
written back as "what I read minus what I sold" (a lost update), concurrent buyers oversell,
and the harness must see it. The shop itself locks the rows (catalog.locks) and decrements
with a conditional UPDATE (catalog.stock._move), each of which alone prevents this.
"""

from shop.wsgi import application  # what gunicorn serves; it sets Django up


def take_the_guards_out() -> None:
    from catalog import locks, stock
    from catalog.models import Variant

    move_with_guards = stock._move

    def variants_without_lock(*, ids):
        return {v.pk: v for v in Variant.objects.filter(pk__in=sorted(set(ids)))}

    def move_by_read_value(*, locked, deltas, **kwargs):
        for pk, delta in deltas.items():
            Variant.objects.filter(pk=pk).update(stock=locked[pk].stock + delta)
        return move_with_guards(locked=locked, deltas=dict.fromkeys(deltas, 0), **kwargs)

    locks.variants_for_update = variants_without_lock
    stock._move = move_by_read_value


take_the_guards_out()
__all__ = ["application"]
