"""Catalog data the merchant translates (django-modeltranslation): each field below gets a
column per language (`name_en`, `name_zh_hans`); reading `name` gives the active
language's, or the English when that is empty. README "Languages"."""

from modeltranslation.translator import TranslationOptions, register

from catalog.models import Category, OptionType, OptionValue, Specification, Tag


class _Translated(TranslationOptions):
    #: An untranslated field is NULL, not "": unique names (tags, option types) leave any
    #: number of them untranslated.
    empty_values = None


@register(Category)
class CategoryTranslation(_Translated):
    fields = ("name", "description")


@register(Tag)
class TagTranslation(_Translated):
    fields = ("name",)


@register(OptionType)
class OptionTypeTranslation(_Translated):
    fields = ("name",)


@register(OptionValue)
class OptionValueTranslation(_Translated):
    fields = ("value",)


@register(Specification)
class SpecificationTranslation(_Translated):
    fields = ("name", "value")
