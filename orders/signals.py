"""What the orders app tells the apps above it, which it may not import.

`order_paid` (keyword `order_id`) is sent once an order's payment status becomes paid, after
the payment's transaction commits: the group buys app counts its member as paid. Receivers
only start work (a task, a service); money never moves in a receiver."""

from django.dispatch import Signal

order_paid = Signal()
