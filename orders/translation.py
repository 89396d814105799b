"""Shipping methods in each language (django-modeltranslation; see catalog/translation.py)."""

from modeltranslation.translator import TranslationOptions, register

from orders.models import ShippingMethod


@register(ShippingMethod)
class ShippingMethodTranslation(TranslationOptions):
    fields = ("name", "delivery_estimate")
    empty_values = None
