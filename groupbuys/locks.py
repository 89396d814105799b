"""Every row lock of the group buys app, in one place.

Lock order: the group, then its members in primary-key order, then (through the orders and
payments services) the order and its payments. Every path that changes a group's seats
takes the group's row first, so joins, payments and expiry of one group queue there."""

from groupbuys.models import Group, Membership


def group_for_update(*, pk: int) -> Group | None:
    return Group.objects.select_for_update().filter(pk=pk).order_by("pk").first()


def group_for_update_unless_busy(*, pk: int) -> Group | None:
    """The group, locked; None if another process holds it (SKIP LOCKED): two expiry runs
    at once settle each group once."""
    return Group.objects.select_for_update(skip_locked=True).filter(pk=pk).order_by("pk").first()


def member_for_update(*, group_id: int, user_id: int) -> Membership | None:
    return (
        Membership.objects.select_for_update()
        .filter(group_id=group_id, user_id=user_id)
        .order_by("pk")
        .first()
    )


def membership_for_update(*, pk: int) -> Membership | None:
    return Membership.objects.select_for_update().filter(pk=pk).order_by("pk").first()
