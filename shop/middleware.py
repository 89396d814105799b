from django.middleware import locale
from django.urls import reverse
from django.utils import translation


class LocaleMiddleware(locale.LocaleMiddleware):
    """Django's LocaleMiddleware, except in the merchant's admin.

    Shopper pages take their language from the URL (English unprefixed, /zh-hans/...), so
    Django reads every unprefixed path as English. The admin has one URL for both languages:
    there the merchant's language cookie or browser decides, as before the prefixes.
    """

    def process_request(self, request):
        super().process_request(request)
        if request.path_info.startswith(reverse("admin:index")):
            translation.activate(translation.get_language_from_request(request))
            request.LANGUAGE_CODE = translation.get_language()
