"""Settings of the shop, all read from the environment (12-factor).

With nothing set, the shop runs on SQLite with an in-memory cache and inline Celery tasks,
so that a newcomer gets a working shop from `make run`. `.env.example` documents every
variable; a `.env` file beside `manage.py` is read when present.
"""

import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

#: Under pytest the development defaults apply (pytest-django still runs tests with DEBUG off).
TESTING = "pytest" in sys.modules
DEBUG = env.bool("DEBUG", default=TESTING)

#: Required to serve (shop/wsgi.py refuses to start without it) and flagged by
#: `check --deploy`; commands that sign nothing (migrate, makemigrations) run without it.
SECRET_KEY = env.str("SECRET_KEY", default="")
#: Former keys, still accepted for signatures made with them (sessions, links) while a new
#: SECRET_KEY takes over; see docs/operations.md "Rotating keys".
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

SHOP_NAME = env.str("SHOP_NAME", default="Django Shop")
#: ISO 4217 code of the one currency the shop sells in.
SHOP_CURRENCY = env.str("SHOP_CURRENCY", default="USD")
#: A shop selling in yuan sells in mainland China: where the defaults of a few settings below
#: differ (seller country CN, prices including VAT, Beijing time, +86 phone numbers).
SELLS_IN_CHINA = SHOP_CURRENCY == "CNY"
#: Most units of one variant a cart may hold.
CART_MAX_LINE_QUANTITY = env.int("CART_MAX_LINE_QUANTITY", default=20)

INSTALLED_APPS = [
    # Catalog data in each language (catalog/translation.py); must come before the admin.
    "modeltranslation",
    "insights.apps.ShopAdminConfig",  # Django's admin; its index is the merchant's dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "django.contrib.postgres",
    "django.contrib.sitemaps",
    "shop",
    "taxes",
    "accounts",
    "catalog",
    "promotions",
    "cart",
    "orders",
    "payments",
    "reviews",
    "groupbuys",
    "insights",
]

MIDDLEWARE = [
    "shop.middleware.RefuseNulBytes",
    "django.middleware.security.SecurityMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # django-csp's, with the settings' policy built once (shop/middleware.py).
    "shop.middleware.ContentSecurityPolicy",
    "shop.middleware.PrivatePages",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before CommonMiddleware: the language comes from the URL's prefix.
    "shop.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Django's, a posted form's token unmasked in C (shop/csrf.py, which also makes Django's
    # deploy checks W003 and W016 look for it: SILENCED_SYSTEM_CHECKS).
    "shop.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's, its storage made when a message is first read or added (shop/middleware.py).
    "shop.middleware.LazyMessages",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

#: Django's "no CSRF middleware" check knows only its own by name: shop.csrf asks it instead.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # Django's cached loader over the same sources, each template kept per language
            # with its constant {% translate %} written out (shop.template_loaders).
            "loaders": [
                (
                    "shop.template_loaders.Loader",
                    [
                        "django.template.loaders.filesystem.Loader",
                        "django.template.loaders.app_directories.Loader",
                    ],
                )
            ],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "shop.context_processors.shop",
            ],
        },
    },
]


# --- Database --------------------------------------------------------------------------
def _process_kind() -> str:
    """What this process is, for limits that differ: "web" (gunicorn, runserver), "command"
    (manage.py), "worker" (Celery) or "test". SHOP_PROCESS overrides the guess."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("")
    if TESTING:
        return "test"
    if "celery" in program.parts or program.name == "celery":
        return "worker"
    if program.name in ("manage.py", "django-admin") and sys.argv[1:2] != ["runserver"]:
        return "command"
    return "web"


SHOP_PROCESS = env.str("SHOP_PROCESS", default=_process_kind())
#: Longest one SQL statement of a web request may run, in seconds (0: no limit). A page
#: answers in milliseconds; 5 s is far above any honest request and still frees the worker
#: and the database backend of a pathological one (a listing says so, see catalog.views).
#: gunicorn's --timeout must stay above it (README "Deploying").
DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_STATEMENT_TIMEOUT", default=5.0)
#: The same for management commands, Celery workers and tests (imports, rebuilds, reports
#: legitimately run long): no limit unless set.
COMMAND_STATEMENT_TIMEOUT = env.float("COMMAND_STATEMENT_TIMEOUT", default=0.0)
STATEMENT_TIMEOUT = (
    DATABASE_STATEMENT_TIMEOUT if SHOP_PROCESS == "web" else COMMAND_STATEMENT_TIMEOUT
)

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Persistent connections: opening one per request costs several times the throughput.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # The shop's queries are short: PostgreSQL's JIT compiler costs more (20 ms seen on a
    # listing) than it could ever save on them.
    server_options = ["-c jit=off"]
    if STATEMENT_TIMEOUT:
        # PostgreSQL cancels the statement itself: a worker killed by gunicorn would leave
        # its query running, and a handful of such URLs would take the database down.
        server_options.append(f"-c statement_timeout={round(STATEMENT_TIMEOUT * 1000)}")
    if TESTING:
        # A throwaway test database need not wait for the disk at each commit; the browser
        # tests commit (and empty every table) once per test.
        server_options.append("-c synchronous_commit=off")
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = " ".join(server_options)
#: A read replica of the primary (streaming replication): catalog pages read the catalog's
#: rows from it (shop/replica.py says which reads); unset, everything uses the primary.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **env.db_url_config(DATABASE_REPLICA_URL),
        **{k: v for k, v in DATABASES["default"].items() if k in ("CONN_MAX_AGE", "OPTIONS")},
        "CONN_HEALTH_CHECKS": DATABASES["default"].get("CONN_HEALTH_CHECKS", False),
    }
    DATABASE_ROUTERS = ["shop.replica.ReplicaRouter"]
    MIDDLEWARE += ["shop.replica.CatalogReadsFromReplica"]
elif TESTING:
    # A second, empty database standing in for the replica in shop/tests/test_replica.py,
    # which turns the router on; every other test runs on the primary alone. Its tables are
    # made from the models (a replica copies the primary's schema; it runs no migrations).
    DATABASES["replica"] = {
        **DATABASES["default"],
        "TEST": {"MIGRATE": False}
        | (
            {"NAME": f"test_{DATABASES['default']['NAME']}_replica"}
            if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
            else {}
        ),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and sessions ----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and TESTING and (worker := env.str("PYTEST_XDIST_WORKER", default="")):
    # `make test` runs the suite in parallel workers (gw0, gw1, ...): each takes the Redis
    # database after the configured one, as each takes its own test database, because every
    # test starts by emptying the cache.
    _redis = urlsplit(REDIS_URL)
    _database = (int(_redis.path.strip("/") or 0) + int(worker.removeprefix("gw"))) % 16
    REDIS_URL = _redis._replace(path=f"/{_database}").geturl()
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="shop"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # A Redis outage degrades to uncached pages, never to errors; a short
                # timeout keeps a dead Redis from turning into slow pages.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions are read from the cache and survive its loss in the database: Django's
# cached_db, a new key drawn without a lookup first (shop/sessions.py).
SESSION_ENGINE = "shop.sessions"
# Django's messages storage (a cookie, the session past its size), its signer made once.
MESSAGE_STORAGE = "shop.messages.FallbackStorage"

# --- Background work -------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
#: Seconds before the Redis broker hands a task that was taken but never acknowledged (its
#: worker was killed) to another worker. Celery's default; it must stay above the longest
#: task and countdown, or a task still running is started a second time.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=60 * 60)
}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}
# Promotions: sale prices on cards and product pages follow the sales' windows within a
# minute (the cart itself prices to the second).
CELERY_BEAT_SCHEDULE["promotions-sync-sale-prices"] = {
    "task": "promotions.tasks.sync_sale_prices",
    "schedule": 60.0,
}

# Points (积分, README "Points"): earned on completed orders, spent at checkout, expiring.
# Points earned per unit of currency paid (net of refunds); 0 turns earning off.
POINTS_PER_UNIT = Decimal(env.str("POINTS_PER_UNIT", default="1"))
# What one point is worth at checkout, in the shop's currency; 0 turns redemption off.
POINTS_VALUE = Decimal(env.str("POINTS_VALUE", default="0.01"))
# The largest share of an order (percent of its items after discounts) points may pay.
POINTS_MAX_SHARE = Decimal(env.str("POINTS_MAX_SHARE", default="50"))
# Days before earned points expire; 0: never.
POINTS_VALID_DAYS = env.int("POINTS_VALID_DAYS", default=365)
# Bonus points for a customer's first completed order, and for each approved review.
POINTS_FIRST_ORDER_BONUS = env.int("POINTS_FIRST_ORDER_BONUS", default=0)
POINTS_REVIEW_BONUS = env.int("POINTS_REVIEW_BONUS", default=0)
CELERY_BEAT_SCHEDULE["promotions-expire-points"] = {
    "task": "promotions.tasks.expire_points",
    "schedule": 3600.0,  # hourly: points are gone within the hour of their expiry
}

# How long an order paid online may stay unpaid (ORDER_PAYMENT_WINDOWS below): Stripe's
# sessions live 30 minutes to 24 hours, so at least 30.
ONLINE_PAYMENT_MINUTES = max(env.int("ONLINE_PAYMENT_MINUTES", default=60), 30)
# Group buys (拼团, README "Group buys"): a joiner holds a seat this many minutes while they
# check out and pay (a payment after that keeps the seat only if it is still free). By
# default the online payment window plus 15 minutes to go through checkout: a shopper who
# places the order within 15 minutes of joining and pays before the order's own deadline
# never loses the seat (it was 30 against a 60-minute window: a payment in the second half
# hour could find the seat taken and be refunded).
GROUP_BUY_SEAT_MINUTES = env.int("GROUP_BUY_SEAT_MINUTES", default=ONLINE_PAYMENT_MINUTES + 15)
CELERY_BEAT_SCHEDULE["groupbuys-expire"] = {
    "task": "groupbuys.tasks.expire_group_buys",
    "schedule": 60.0,  # every minute: a group is settled within a minute of its deadline
}
# Flash sales (秒杀, README "Flash sales"): units are counted in Redis (a Lua script) in front
# of the database's conditional UPDATE. Empty: the database alone (correct, slower under a
# crowd). Defaults to REDIS_URL.
FLASH_REDIS_URL = env.str("FLASH_REDIS_URL", default=REDIS_URL)
# Minutes an order with flash sale units may stay unpaid before its units go back.
FLASH_PAYMENT_MINUTES = env.int("FLASH_PAYMENT_MINUTES", default=15)
# Minutes "Buy now" holds a flash sale unit for a shopper until the order is placed (5: a
# signed-in shopper with an address book places it in one or two; an abandoned unit is back
# for the crowd while the sale is still on).
FLASH_HOLD_MINUTES = env.int("FLASH_HOLD_MINUTES", default=5)
CELERY_BEAT_SCHEDULE["promotions-reconcile-flash"] = {
    "task": "promotions.tasks.reconcile_flash_counters",
    "schedule": 60.0,  # a counter that drifted from the database is dropped within a minute
}

# The listing index's journal of changed products (catalog.facets), read within the hour.
CELERY_BEAT_SCHEDULE["catalog-prune-product-changes"] = {
    "task": "catalog.tasks.prune_product_changes",
    "schedule": 86400.0,
}
# Search's "did you mean" words: counts exact again, words of deleted products dropped.
CELERY_BEAT_SCHEDULE["catalog-recount-search-terms"] = {
    "task": "catalog.tasks.recount_search_terms",
    "schedule": 86400.0,
}

# --- Accounts and passwords ------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
if TESTING:
    # Argon2 still, at its lowest cost: production's costs 0.2-0.3 s of CPU per sign-in,
    # and the suite signs in, registers and changes passwords hundreds of times.
    PASSWORD_HASHERS[0] = "accounts.tests.hashers.QuickArgon2PasswordHasher"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in, registration, phone codes (accounts app; README "Accounts" explains each).
INSTALLED_APPS += ["django_countries"]  # ISO 3166-1 country names, translated
INSTALLED_APPS += ["axes"]
# django-axes first: every authentication (the shop's forms, the admin's login, phone codes)
# is checked and counted in one place.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.EmailOrPhoneBackend",
]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:profile"
LOGOUT_REDIRECT_URL = "home"
ACCOUNT_ACTIVATION_DAYS = env.int("ACCOUNT_ACTIVATION_DAYS", default=3)
ACCOUNT_EMAIL_CHANGE_HOURS = env.int("ACCOUNT_EMAIL_CHANGE_HOURS", default=24)
ACCOUNT_REMEMBER_ME_DAYS = env.int("ACCOUNT_REMEMBER_ME_DAYS", default=30)
ACCOUNT_LOGIN_MAX_FAILURES = env.int("ACCOUNT_LOGIN_MAX_FAILURES", default=5)
ACCOUNT_LOGIN_COOLDOWN_MINUTES = env.int("ACCOUNT_LOGIN_COOLDOWN_MINUTES", default=15)
#: Caps per client address and for the whole shop, per hour: texted codes (each one is paid
#: for: SMS pumping) and password-reset mails.
ACCOUNT_TEXTS_PER_ADDRESS_PER_HOUR = env.int("ACCOUNT_TEXTS_PER_ADDRESS_PER_HOUR", default=5)
ACCOUNT_TEXTS_PER_HOUR = env.int("ACCOUNT_TEXTS_PER_HOUR", default=300)
ACCOUNT_RESET_MAILS_PER_ADDRESS_PER_HOUR = env.int(
    "ACCOUNT_RESET_MAILS_PER_ADDRESS_PER_HOUR", default=5
)
ACCOUNT_RESET_MAILS_PER_HOUR = env.int("ACCOUNT_RESET_MAILS_PER_HOUR", default=500)
#: Unsigned (forged) payment callbacks stored per client address and hour; more get a 429.
PAYMENT_UNSIGNED_CALLBACKS_PER_HOUR = env.int("PAYMENT_UNSIGNED_CALLBACKS_PER_HOUR", default=20)
#: Addresses or networks of our own reverse proxies: X-Forwarded-For is believed only from them.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
AXES_FAILURE_LIMIT = ACCOUNT_LOGIN_MAX_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=ACCOUNT_LOGIN_COOLDOWN_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: an account, an address
AXES_USERNAME_FORM_FIELD = "username"  # the sign-in forms' field (an email or a phone number)
AXES_USERNAME_CALLABLE = "accounts.throttle.account_of"
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.throttle.locked_out_response"
AXES_RESET_ON_SUCCESS = False  # the account's count is reset by accounts.services, not the IP's
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # failures are what throttling needs; no row per sign-in
AXES_VERBOSE = False
#: Calling code assumed for a phone number typed without "+" (empty: "+" is required).
PHONE_DEFAULT_CALLING_CODE = env.str(
    "PHONE_DEFAULT_CALLING_CODE", default="86" if SELLS_IN_CHINA else ""
)
SMS_BACKEND = env.str("SMS_BACKEND", default="accounts.sms.ConsoleBackend")
#: Folder the file SMS backend writes to (required with accounts.sms.FileBackend).
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default="")

# --- Mail ------------------------------------------------------------------------------
globals().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{SHOP_NAME} <shop@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Languages and time ----------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
#: Catalog data the merchant translates (catalog/translation.py, orders/translation.py):
#: a column per language; an empty translation shows the English.
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)
#: Slugs the admin fills in are made from the English name, whatever the admin's language.
MODELTRANSLATION_PREPOPULATE_LANGUAGE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai" if SELLS_IN_CHINA else "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media files ------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed, content-hashed files in production (run `collectstatic` first);
    # plain files while developing and testing, where nobody runs collectstatic.
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
#: Where uploaded pictures (and the thumbnails made from them) are kept: "filesystem"
#: (MEDIA_ROOT, served by the proxy) or "s3", any S3-compatible bucket (django-storages), for
#: app servers on several hosts without a shared volume. The bucket's objects must be
#: readable by anyone: pages link to them by plain URL (cached pages could not hold signed
#: URLs, which expire).
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="filesystem")
if MEDIA_STORAGE == "s3":
    _bucket = env.str("AWS_STORAGE_BUCKET_NAME")
    #: The S3 API's address: empty for AWS, e.g. https://minio.example.com otherwise.
    _endpoint = env.str("AWS_S3_ENDPOINT_URL", default="")
    _region = env.str("AWS_S3_REGION_NAME", default="")
    #: Where browsers read the pictures: a CDN or the bucket's own address.
    MEDIA_URL = env.str(
        "MEDIA_URL",
        default=f"{_endpoint.rstrip('/')}/{_bucket}/"
        if _endpoint
        else f"https://{_bucket}.s3.{_region or 'us-east-1'}.amazonaws.com/",
    )
    _media = urlsplit(MEDIA_URL)
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket,
            "endpoint_url": _endpoint or None,
            "region_name": _region or None,
            # Unset: boto3's own chain (an instance role, ~/.aws).
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            # URLs are MEDIA_URL + the object's key, unsigned.
            "custom_domain": f"{_media.netloc}{_media.path}".rstrip("/"),
            "url_protocol": f"{_media.scheme}:",
            "querystring_auth": False,
            "file_overwrite": False,  # two uploads named shirt.png stay two pictures
            # Names are never reused (above), so browsers and proxies may keep a picture.
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
    }
elif MEDIA_STORAGE != "filesystem":
    raise ImproperlyConfigured("MEDIA_STORAGE is filesystem or s3.")

# While developing, whitenoise serves files straight from the apps' static folders.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security --------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True  # read by the server only
#: Cookies of what a shopper did that signing out (or deleting the account) removes, so the
#: next person at a shared computer does not see them: the products viewed last
#: (catalog.recently_viewed). The language stays.
SIGN_OUT_CLEARS_COOKIES = ["recently_viewed"]
#: Browser features no page of the shop uses are switched off for it and anything it embeds.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
        "xr-spatial-tracking",
    )
}
#: Content-Security-Policy (django-csp), enforced on every page, the admin's included: scripts,
#: styles, fonts and fetches from the shop's own origin only, never inline (the templates carry
#: no inline script, `style` attribute or `<style>`; JSON data blocks are not scripts to the
#: browser, so cached pages need no per-request nonce). Forms post to the shop; a form may also
#: be redirected to an enabled payment provider's hosted page (browsers check form-action on
#: every redirect of a form's navigation), listed per provider in PAYMENT_PROVIDER_FORM_ORIGINS.
#: Pictures also from the media storage's address when it is another host (MEDIA_STORAGE=s3).
CSP_IMG_ORIGINS = [SELF]
if urlsplit(MEDIA_URL).netloc:
    CSP_IMG_ORIGINS.append("{0.scheme}://{0.netloc}".format(urlsplit(MEDIA_URL)))
CSP_FORM_ACTION_ORIGINS = [SELF]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": CSP_IMG_ORIGINS,
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": CSP_FORM_ACTION_ORIGINS,
    }
}
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    # Behind a TLS-terminating proxy (USE_X_FORWARDED_PROTO) the redirect never fires: keep it.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    # Trust the proxy's X-Forwarded-Proto header: only set this behind a proxy that sets it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging: everything to stdout, where gunicorn and the container runtime collect it --
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "plain",
        },
    },
    "root": {"handlers": ["stdout"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # django-axes logs every sign-in at INFO; its lockouts are WARNING.
        "axes": {"level": "WARNING"},
        # WeasyPrint logs every step of every invoice PDF at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- Payments (README "Payments") ------------------------------------------------------
#: Name shown at checkout for each provider code (a module in payments/providers/).
PAYMENT_PROVIDER_LABELS = {
    "manual": _("Bank transfer"),
    "sandbox": _("Card (sandbox gateway)"),
    "stripe": _("Card (Stripe)"),
    "alipay": _("Alipay"),
    "wechatpay": _("WeChat Pay"),
}
#: The offline demo of Alipay and WeChat Pay (payments/wallet_demo/, README "Payments"): the
#: wallets' side played inside the shop with keys made on this machine. On by default while
#: developing a yuan shop that has no wallet keys of its own (`SHOP_CURRENCY=CNY make run`);
#: anyone could "pay" with it, so it is refused with DEBUG off (here and by a system check).
PAYMENT_WALLETS_DEMO = env.bool(
    "PAYMENT_WALLETS_DEMO",
    default=DEBUG
    and not TESTING
    and SHOP_CURRENCY == "CNY"
    and not any(env.str(name, default="") for name in ("ALIPAY_APP_ID", "WECHATPAY_MCHID")),
)
if PAYMENT_WALLETS_DEMO and not DEBUG:
    raise ImproperlyConfigured("PAYMENT_WALLETS_DEMO is for development only (DEBUG=true).")
#: Where the demo keeps its keys (made there on first use; git-ignored).
PAYMENT_WALLETS_DEMO_KEYS_FILE = Path(
    env.str("PAYMENT_WALLETS_DEMO_KEYS_FILE", default=str(BASE_DIR / ".wallets-demo/keys.json"))
)
#: The providers the merchant enabled, in the order checkout offers them (the first is
#: preselected). The sandbox lets anyone "pay" without money, so production (DEBUG off)
#: offers it only when listed here explicitly. The wallets' demo offers both wallets first,
#: as a shop in China does.
PAYMENT_PROVIDERS = env.list(
    "PAYMENT_PROVIDERS",
    default=(["alipay", "wechatpay"] if PAYMENT_WALLETS_DEMO else [])
    + (["manual", "sandbox"] if DEBUG else ["manual"]),
)
#: Hosts a provider's hosted payment page lives on: checkout's form is redirected there, so
#: the Content-Security-Policy's form-action lets them through for the enabled providers.
PAYMENT_PROVIDER_FORM_ORIGINS = {
    "stripe": ["https://checkout.stripe.com"],
    # Page and wap pay: the gateway itself (python-alipay-sdk's, live and sandbox).
    "alipay": ["https://openapi.alipay.com", "https://openapi-sandbox.dl.alipaydev.com"],
    # H5 pay's h5_url (Native pay is a page of ours).
    "wechatpay": ["https://wx.tenpay.com"],
}
if PAYMENT_WALLETS_DEMO:
    # The demo's cashiers are pages of the shop at SHOP_URL, which may not be the address
    # the browser uses (localhost and 127.0.0.1).
    _shop_origin = "{0.scheme}://{0.netloc}".format(
        urlsplit(env.str("SHOP_URL", default="http://localhost:8000"))
    )
    for _wallet in ("alipay", "wechatpay"):
        PAYMENT_PROVIDER_FORM_ORIGINS[_wallet] = [_shop_origin]
_unknown_providers = set(PAYMENT_PROVIDERS) - set(PAYMENT_PROVIDER_LABELS)
if _unknown_providers:
    raise ImproperlyConfigured(f"Unknown PAYMENT_PROVIDERS: {sorted(_unknown_providers)}")
for _provider in PAYMENT_PROVIDERS:
    CSP_FORM_ACTION_ORIGINS += PAYMENT_PROVIDER_FORM_ORIGINS.get(_provider, [])
#: HMAC-SHA256 key of the sandbox gateway's callbacks. One fixed value for every process (a
#: per-process random key would break callbacks delivered by a Celery worker or another web
#: worker); a dev-only default while developing, required in production with the sandbox on.
SANDBOX_PAYMENT_SECRET = env.str("SANDBOX_PAYMENT_SECRET", default="")
if not SANDBOX_PAYMENT_SECRET:
    if "sandbox" in PAYMENT_PROVIDERS and not DEBUG:
        raise ImproperlyConfigured("Set SANDBOX_PAYMENT_SECRET (the sandbox provider is on).")
    SANDBOX_PAYMENT_SECRET = "sandbox-dev-only-secret"  # noqa: S105
#: Seconds the sandbox waits before a "late" callback (its page can ask for one).
SANDBOX_LATE_CALLBACK_SECONDS = env.int("SANDBOX_LATE_CALLBACK_SECONDS", default=5)
#: Stripe: the secret API key (sk_...) and the webhook endpoint's signing secret (whsec_...).
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
if (
    "stripe" in PAYMENT_PROVIDERS
    and not DEBUG
    and not (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET)
):
    raise ImproperlyConfigured("Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET (stripe is on).")
#: Alipay (README "Payments"): the app's id, the app's private key and Alipay's public key
#: (PEM, or a file holding it), the sandbox gateway, the seller's Alipay user id (2088...;
#: checked on notifications when set) and the public address Alipay posts notifications to
#: (empty: SHOP_URL).
ALIPAY_APP_ID = env.str("ALIPAY_APP_ID", default="")


def _pem(name: str) -> str:
    """A PEM from the environment variable `name`, or from the file `name`_FILE names."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text()
    return env.str(name, default="", multiline=True)


ALIPAY_APP_PRIVATE_KEY = _pem("ALIPAY_APP_PRIVATE_KEY")
ALIPAY_PUBLIC_KEY = _pem("ALIPAY_PUBLIC_KEY")
ALIPAY_SANDBOX = env.bool("ALIPAY_SANDBOX", default=False)
ALIPAY_SELLER_ID = env.str("ALIPAY_SELLER_ID", default="")
ALIPAY_NOTIFY_BASE_URL = env.str("ALIPAY_NOTIFY_BASE_URL", default="")

#: WeChat Pay (API v3, payments/providers/wechatpay.py): the merchant id, the app id bound to
#: it, the API v3 key (32 characters, decrypts notifications), the merchant's API private key
#: and its certificate's serial number (signs requests), and WeChat Pay's key that signs
#: notifications and answers: its platform public key and that key's id, or a platform
#: certificate (its serial is the id WeChat names). PEMs come from a *_FILE path or the variable.
#: Yuan only: WeChat Pay settles a mainland merchant in CNY.
WECHATPAY_MCHID = env.str("WECHATPAY_MCHID", default="")
WECHATPAY_APPID = env.str("WECHATPAY_APPID", default="")
WECHATPAY_API_V3_KEY = env.str("WECHATPAY_API_V3_KEY", default="")
WECHATPAY_PRIVATE_KEY = _pem("WECHATPAY_PRIVATE_KEY")
WECHATPAY_CERT_SERIAL_NO = env.str("WECHATPAY_CERT_SERIAL_NO", default="")
WECHATPAY_PUBLIC_KEY = _pem("WECHATPAY_PUBLIC_KEY")
WECHATPAY_PUBLIC_KEY_ID = env.str("WECHATPAY_PUBLIC_KEY_ID", default="")
WECHATPAY_PLATFORM_CERT = _pem("WECHATPAY_PLATFORM_CERT")
if PAYMENT_WALLETS_DEMO:
    # The demo accounts' keys replace any of the merchant's (payments/wallet_demo/keys.py).
    from payments.wallet_demo.keys import load_or_create, wallet_settings

    globals().update(wallet_settings(load_or_create(PAYMENT_WALLETS_DEMO_KEYS_FILE)))
if "alipay" in PAYMENT_PROVIDERS:
    if SHOP_CURRENCY != "CNY":
        # Alipay's trades are in yuan: a shop in another currency cannot offer it.
        raise ImproperlyConfigured("Alipay takes CNY only: set SHOP_CURRENCY=CNY.")
    if not (ALIPAY_APP_ID and ALIPAY_APP_PRIVATE_KEY and ALIPAY_PUBLIC_KEY):
        raise ImproperlyConfigured(
            "Set ALIPAY_APP_ID, ALIPAY_APP_PRIVATE_KEY and ALIPAY_PUBLIC_KEY (alipay is on)."
        )
if "wechatpay" in PAYMENT_PROVIDERS:
    if SHOP_CURRENCY != "CNY":
        raise ImproperlyConfigured("WeChat Pay takes yuan only: set SHOP_CURRENCY=CNY.")
    if not (
        WECHATPAY_MCHID
        and WECHATPAY_APPID
        and len(WECHATPAY_API_V3_KEY.encode()) == 32
        and WECHATPAY_PRIVATE_KEY
        and WECHATPAY_CERT_SERIAL_NO
        and ((WECHATPAY_PUBLIC_KEY and WECHATPAY_PUBLIC_KEY_ID) or WECHATPAY_PLATFORM_CERT)
    ):
        raise ImproperlyConfigured(
            "Set WECHATPAY_MCHID, WECHATPAY_APPID, WECHATPAY_API_V3_KEY (32 characters), "
            "WECHATPAY_PRIVATE_KEY, WECHATPAY_CERT_SERIAL_NO and WECHATPAY_PUBLIC_KEY with "
            "WECHATPAY_PUBLIC_KEY_ID, or WECHATPAY_PLATFORM_CERT (wechatpay is on)."
        )

#: reconcile_payments --apply every hour (payments.tasks.reconcile_payments): payments still
#: open past their order's deadline are asked about at Alipay and WeChat Pay (a lost
#: notification is counted within the hour, an expired trade closed), lost captures repaired.
#: Hourly: the discrepancy scan reads every order holding money.
CELERY_BEAT_SCHEDULE["payments-reconcile"] = {
    "task": "payments.tasks.reconcile_payments",
    "schedule": 3600.0,
}

# --- Orders (README "Checkout and orders") ---------------------------------------------
#: Payment methods checkout offers, (code, label); the payments app handles each code.
SHOP_PAYMENT_METHODS = [(code, PAYMENT_PROVIDER_LABELS[code]) for code in PAYMENT_PROVIDERS]
#: The shop's public address, for links in mails sent by workers (no request there).
SHOP_URL = env.str("SHOP_URL", default="http://localhost:8000")
#: How long an order may stay unpaid, by how it is paid. A bank transfer takes days (the
#: shopper gets a reminder halfway); a card paid on a provider's page, minutes, and an open
#: payment session extends the order to the session's own expiry. Stripe's sessions live
#: 30 minutes to 24 hours, so the online window is at least 30 minutes.
ORDER_PAYMENT_WINDOWS = {
    "manual": timedelta(days=env.int("BANK_TRANSFER_PAYMENT_DAYS", default=7)),
    "default": timedelta(minutes=ONLINE_PAYMENT_MINUTES),
}
#: Payment methods whose shoppers get a reminder halfway to the deadline.
ORDER_REMINDED_PAYMENT_METHODS = ["manual"]
#: A guest's signed link (it lives in mails for ever) may cancel only this many days.
GUEST_CANCEL_DAYS = env.int("GUEST_CANCEL_DAYS", default=2)
#: The returns line of product pages: "Free returns within 30 days" (RETURNS_FREE false:
#: "Returns within 30 days"); 0 days shows no line. What the shop promises, in words only:
#: the return page does not refuse a later request.
RETURNS_DAYS = env.int("RETURNS_DAYS", default=30)
RETURNS_FREE = env.bool("RETURNS_FREE", default=True)
CELERY_BEAT_SCHEDULE["orders-expire-unpaid"] = {
    "task": "orders.tasks.expire_unpaid_orders",
    # Every minute: an unpaid flash sale order (FLASH_PAYMENT_MINUTES) gives its unit back
    # within a minute of its deadline. The query reads a partial index.
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["orders-payment-reminders"] = {
    "task": "orders.tasks.send_payment_reminders",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["orders-anonymise-closed"] = {
    "task": "orders.tasks.anonymise_closed_orders",
    "schedule": 86400.0,
}
# "Frequently bought together" and similar products (README "Recommendations"): nightly, at
# a quiet hour for most shops (UTC; the rebuild reads every sold order once).
CELERY_BEAT_SCHEDULE["orders-rebuild-recommendations"] = {
    "task": "orders.tasks.rebuild_recommendations",
    "schedule": crontab(hour=3, minute=15),
}

# --- Carrier tracking (README "Carrier tracking") ---------------------------------------
#: Days after the carrier reports delivery before the order completes by itself (自动确认
#: 收货), unless the shopper confirms receipt first or asks for a return. Taobao and JD wait
#: 10 days, long enough to notice a parcel that never arrived.
TRACKING_AUTO_CONFIRM_DAYS = env.int("TRACKING_AUTO_CONFIRM_DAYS", default=10)
#: Kuaidi100 (快递100): the enterprise account's customer id and key (real-time query) and a
#: salt of our own for the subscription pushes' signature. Empty key: carriers other than
#: the demo carrier keep a plain tracking link.
KUAIDI100_CUSTOMER = env.str("KUAIDI100_CUSTOMER", default="")
KUAIDI100_KEY = env.str("KUAIDI100_KEY", default="")
KUAIDI100_SALT = env.str("KUAIDI100_SALT", default="")
#: The public base URL Kuaidi100 pushes to (…/tracking/kuaidi100/); empty: SHOP_URL. Empty
#: salt or no public URL: shipments are polled instead of subscribed.
TRACKING_CALLBACK_BASE_URL = env.str("TRACKING_CALLBACK_BASE_URL", default="")
#: Real-time queries Kuaidi100 allows per minute on the account's plan; one polling run (once
#: a minute) asks about at most this many shipments.
KUAIDI100_QUERIES_PER_MINUTE = env.int("KUAIDI100_QUERIES_PER_MINUTE", default=20)
#: A shipment is asked about again after this many minutes at the earliest (Kuaidi100 asks
#: for 30 minutes between queries of one number; the demo carrier moves every minute).
TRACKING_POLL_MINUTES = env.int("TRACKING_POLL_MINUTES", default=30)
CELERY_BEAT_SCHEDULE["orders-poll-tracking"] = {
    "task": "orders.tasks.poll_tracking",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["orders-confirm-deliveries"] = {
    "task": "orders.tasks.confirm_deliveries_due",
    "schedule": 3600.0,
}

# --- Taxes and invoices (README "Taxes and invoices") -----------------------------------
#: Whether catalog prices include tax (EU, UK, China, Australia: true) or tax is added on
#: top (US, Canada: false).
TAX_PRICES_INCLUDE_TAX = env.bool("TAX_PRICES_INCLUDE_TAX", default=SELLS_IN_CHINA)
#: Round tax on each line ("line") or once per rate on the total ("total").
TAX_ROUNDING = env.str("TAX_ROUNDING", default="line")
if TAX_ROUNDING not in ("line", "total"):
    raise ImproperlyConfigured("TAX_ROUNDING is line or total.")
#: Where the seller is (ISO 3166-1 code, and a state or province code where taxes differ by
#: region): the cart estimates tax for it before an address is known.
TAX_SELLER_COUNTRY = env.str("TAX_SELLER_COUNTRY", default="CN" if SELLS_IN_CHINA else "US").upper()
#: The country an address form starts on (the shopper changes it first thing).
ADDRESS_DEFAULT_COUNTRY = env.str("ADDRESS_DEFAULT_COUNTRY", default=TAX_SELLER_COUNTRY).upper()
TAX_SELLER_REGION = env.str("TAX_SELLER_REGION", default="").upper()
#: The tax's generic name beside prices: vat, gst, sales_tax or tax (default: vat when
#: prices include tax, else tax).
TAX_NAME = env.str("TAX_NAME", default="")
#: The seller as invoices print it: legal name, address lines separated by "|", VAT or tax id.
SELLER_NAME = env.str("SELLER_NAME", default=SHOP_NAME)
SELLER_ADDRESS = env.str("SELLER_ADDRESS", default="")
SELLER_TAX_ID = env.str("SELLER_TAX_ID", default="")
SELLER_EMAIL = env.str("SELLER_EMAIL", default="")
#: Invoice and credit note numbers: this prefix and the sequential number, e.g. INV-000042.
INVOICE_NUMBER_PREFIX = env.str("INVOICE_NUMBER_PREFIX", default="INV-")
CREDIT_NOTE_NUMBER_PREFIX = env.str("CREDIT_NOTE_NUMBER_PREFIX", default="CN-")
#: Offer a fapiao (发票) at checkout; empty or unset: when the seller is in China.
_fapiao = env.str("FAPIAO_ENABLED", default="").strip().lower()
FAPIAO_ENABLED = _fapiao in ("1", "true", "yes", "on") if _fapiao else TAX_SELLER_COUNTRY == "CN"

# --- Reviews (README "Reviews") --------------------------------------------------------
#: Publish new and edited reviews at once instead of holding them for the merchant.
REVIEWS_AUTO_APPROVE = env.bool("REVIEWS_AUTO_APPROVE", default=False)
