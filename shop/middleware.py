"""Middleware of the shop: requests no page can mean, pages about one shopper, languages,
the Content-Security-Policy header."""

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponseBadRequest
from django.middleware import locale
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.functional import SimpleLazyObject, empty
from django.utils.translation import gettext as _

NUL = "\x00"
#: What a request holds before LocaleMiddleware has read its path's language.
NOT_READ = object()


class RefuseNulBytes:
    """A NUL byte is never part of a real path, query or cookie, and PostgreSQL refuses it in
    any text it is given, so one reaching a query was a 500. A path or query with one is a
    400 here; a cookie with one is dropped, as if the browser had not sent it (a forged
    session cookie then reads as no session), so the shopper still gets the page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path_info or any(
            NUL in key or any(NUL in value for value in values)
            for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(_("This address is not valid."))
        for name in [name for name, value in request.COOKIES.items() if NUL in name + value]:
            del request.COOKIES[name]
        return self.get_response(request)


#: URL namespaces whose pages are about one shopper: their account, cart, checkout, orders
#: and payments (the wishlist lives in catalog's namespace and is matched by name).
PRIVATE_NAMESPACES = {"accounts", "cart", "orders", "payments"}


class PrivatePages:
    """A page about one shopper is kept by no cache, the browser's included (a shared
    computer's back button, a proxy): `Cache-Control: private, no-store`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = request.resolver_match
        if match and (
            PRIVATE_NAMESPACES.intersection(match.namespaces)
            or (match.url_name or "").startswith("wishlist")
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response


class LocaleMiddleware(locale.LocaleMiddleware):
    """Django's LocaleMiddleware, except in the merchant's admin.

    Shopper pages take their language from the URL (English unprefixed, /zh-hans/...), so
    Django reads every unprefixed path as English. The admin has one URL for both languages:
    there the merchant's language cookie or browser decides, as before the prefixes.
    """

    #: The admin's address (the URLconf's, read once: it does not change while serving).
    admin_prefix = None

    def process_request(self, request):
        urlconf = getattr(request, "urlconf", settings.ROOT_URLCONF)
        prefixed, default_prefixed = is_language_prefix_patterns_used(urlconf)
        if prefixed and not default_prefixed:
            # What Django's decides for such URLs, without reading the language cookie and
            # Accept-Language first (its answer then overrides them): the path's prefix,
            # else the default language.
            path_language = translation.get_language_from_path(request.path_info)
            language = path_language or settings.LANGUAGE_CODE
            translation.activate(language)
            # What get_language() answers now, without reading the thread's translation back.
            request.LANGUAGE_CODE = translation.to_language(language)
            request._language_from_path = path_language
        else:
            super().process_request(request)
        if self.admin_prefix is None:
            self.admin_prefix = reverse("admin:index")
        if request.path_info.startswith(self.admin_prefix):
            translation.activate(translation.get_language_from_request(request))
            request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request, response):
        """Django's, without reading the path's language a second time: for URLs whose
        English is unprefixed Django's answer is only its two headers (it redirects a 404
        to a prefixed address only when the default language is prefixed too)."""
        language_from_path = getattr(request, "_language_from_path", NOT_READ)
        if language_from_path is NOT_READ:
            return super().process_response(request, response)
        if not language_from_path:
            vary_on(response, "Accept-Language")
        # The request's language: nothing between process_request and here switches it.
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


def vary_on(response, header: str) -> None:
    """patch_vary_headers(response, (header,)), the same header written, for less where the
    answer is plain: no Vary yet, or a Vary written as Django writes it (names joined by
    ", "), where Django's adds `header` at the end unless a name is already it (whatever
    its case). Django's splits the header with a lazily compiled regular expression:
    31,000 instructions a call with a Vary there, 14,000 without. Anything else (a "*",
    other spacing) goes to Django's."""
    vary = response.headers.get("Vary")
    if vary is None:
        if header != "*":
            response.headers["Vary"] = header
            return
    else:
        names = vary.split(", ")
        if header != "*" and all(
            name == name.strip() and "," not in name and name != "*" for name in names
        ):
            if header.lower() not in {name.lower() for name in names}:
                response.headers["Vary"] = f"{vary}, {header}"
            return  # else Django's would write the same Vary again
    patch_vary_headers(response, (header,))


class LazyMessages(MessageMiddleware):
    """Django's MessageMiddleware, the storage made when messages are first read or added.

    Most requests neither add nor show a message (a cached page shows them only to a
    visitor with a messages cookie or a session): making the storage for each (a cookie
    signer, the session's storage) was a twentieth of a bare view."""

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response  # never read nor added to: nothing to store
        return super().process_response(request, response)


def may_have_messages(request) -> bool:
    """Whether messages may wait for this visitor: some were read or added in this request,
    or they carry the cookie or the session the messages are stored in (settings'
    MESSAGE_STORAGE, Django's default: a cookie, the session past its size)."""
    messages = getattr(request, "_messages", None)
    if not isinstance(messages, SimpleLazyObject) or messages._wrapped is not empty:
        return True
    return bool({CookieStorage.cookie_name, settings.SESSION_COOKIE_NAME} & set(request.COOKIES))


def sessionless_guest(request) -> bool:
    """Whether the visitor is a guest who brought no session and started none (every first
    visit): known without making the user, which reads the session (a user comes only from
    the session here: AuthenticationMiddleware's lazy user, not yet made). Making the lazy
    user was about half of such a visitor's header. The session is marked read, as making
    the user marks it: the page still varies on the Cookie header."""
    session = getattr(request, "session", None)
    user = getattr(request, "user", None)
    if session is None or session.session_key is not None or session.modified:
        return False
    if not isinstance(user, SimpleLazyObject) or user._wrapped is not empty:
        return False
    session.accessed = True
    return True


#: Per setting (the policy, the report-only one): (header value, excluded path prefixes),
#: built from the settings once; emptied when a test changes them.
_built_policies: dict[str, tuple[str, tuple[str, ...]]] = {}
#: What a view may set on its response to change the policy (django-csp's decorators).
_PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


@receiver(setting_changed)
def _forget_built_policies(setting, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _built_policies.clear()


def _settings_policy(setting: str) -> tuple[str, tuple[str, ...]]:
    built = _built_policies.get(setting)
    if built is None:
        policy = build_policy(report_only=setting.endswith("_REPORT_ONLY"))
        prefixes = tuple((getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ())
        built = _built_policies[setting] = (policy, prefixes)
    return built


class ContentSecurityPolicy(CSPMiddleware):
    """django-csp's middleware, with the header built once from the settings.

    django-csp builds the policy from the settings on every response (dataclass copies and
    a walk over every directive: about a sixth of a bare view's time). A response whose view
    set no policy of its own (django-csp's decorators) and that used no nonce gets the
    settings' policy, the same every time: built once here, with django-csp's own
    build_policy, and set under django-csp's rules. Any other response goes through django-csp.
    """

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _PER_RESPONSE
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response  # django-csp leaves Django's debug pages alone
        for header, setting, exempt in (
            (HEADER, "CONTENT_SECURITY_POLICY", "_csp_exempt"),
            (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro"),
        ):
            policy, excluded = _settings_policy(setting)
            if (
                policy
                and header not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(excluded)
            ):
                response[header] = policy
        # As django-csp: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
