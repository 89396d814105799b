import subprocess
import sys

from shop.tests.utils import BASE_DIR, PRODUCTION_ENV, child_env, read_settings, run_django


def test_nothing_configured_gives_sqlite_local_memory_cache_and_inline_tasks():
    found = read_settings(
        ["DATABASES", "CACHES", "CELERY_TASK_ALWAYS_EAGER", "SESSION_ENGINE"], DEBUG="true"
    )
    assert found["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert found["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")
    assert found["CELERY_TASK_ALWAYS_EAGER"] is True
    assert found["SESSION_ENGINE"] == "shop.sessions"  # cached_db, see shop/sessions.py


def test_environment_configures_postgres_redis_and_celery():
    found = read_settings(
        [
            "DATABASES",
            "CACHES",
            "CELERY_TASK_ALWAYS_EAGER",
            "CELERY_BROKER_URL",
            "SHOP_NAME",
            "SHOP_CURRENCY",
            "EMAIL_BACKEND",
            "SESSION_ENGINE",
        ],
        DEBUG="true",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/shop",
        REDIS_URL="redis://127.0.0.1:6379/3",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/4",
        SHOP_NAME="Tea House",
        SHOP_CURRENCY="CNY",
        EMAIL_URL="smtp://mailer:secret@mail.example.com:587",
    )
    database = found["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["CONN_MAX_AGE"] == 60
    assert database["CONN_HEALTH_CHECKS"] is True
    cache = found["CACHES"]["default"]
    assert cache["BACKEND"] == "django_redis.cache.RedisCache"
    assert cache["LOCATION"] == "redis://127.0.0.1:6379/3"
    assert cache["OPTIONS"]["IGNORE_EXCEPTIONS"] is True
    assert found["SESSION_ENGINE"] == "shop.sessions"  # cached_db, see shop/sessions.py
    assert found["CELERY_TASK_ALWAYS_EAGER"] is False
    assert found["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/4"
    assert (found["SHOP_NAME"], found["SHOP_CURRENCY"]) == ("Tea House", "CNY")
    assert found["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"


def test_web_requests_have_a_statement_timeout_and_commands_none():
    postgres = {"DEBUG": "true", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/shop"}
    web = read_settings(["DATABASES", "SHOP_PROCESS"], **postgres)
    assert web["SHOP_PROCESS"] == "web"
    options = web["DATABASES"]["default"]["OPTIONS"]["options"]
    assert "-c statement_timeout=5000" in options and "-c jit=off" in options
    shorter = read_settings(["DATABASES"], DATABASE_STATEMENT_TIMEOUT="0.25", **postgres)
    assert "statement_timeout=250" in shorter["DATABASES"]["default"]["OPTIONS"]["options"]
    worker = read_settings(["DATABASES"], SHOP_PROCESS="worker", **postgres)
    assert "statement_timeout" not in worker["DATABASES"]["default"]["OPTIONS"]["options"]
    command = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.conf import settings; print(settings.SHOP_PROCESS, "
         "settings.DATABASES['default']['OPTIONS'])"],
        cwd=BASE_DIR, env=child_env(**postgres), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "command {" in command.stdout
    assert "statement_timeout" not in command.stdout


def test_production_settings_are_secure():
    found = read_settings(
        [
            "DEBUG",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "LANGUAGE_COOKIE_SECURE",
            "LANGUAGE_COOKIE_SAMESITE",
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
            "SECURE_PROXY_SSL_HEADER",
            "PASSWORD_HASHERS",
            "ALLOWED_HOSTS",
            "CSRF_TRUSTED_ORIGINS",
        ],
        **PRODUCTION_ENV,
    )
    assert found["DEBUG"] is False
    assert found["SESSION_COOKIE_SECURE"] is True
    assert found["CSRF_COOKIE_SECURE"] is True
    assert found["LANGUAGE_COOKIE_SECURE"] is True
    assert found["LANGUAGE_COOKIE_SAMESITE"] == "Lax"
    assert found["SECURE_SSL_REDIRECT"] is True
    assert found["SECURE_HSTS_SECONDS"] >= 31536000
    assert found["SECURE_PROXY_SSL_HEADER"] is None
    assert found["PASSWORD_HASHERS"][0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert found["ALLOWED_HOSTS"] == ["shop.example.com"]
    assert found["CSRF_TRUSTED_ORIGINS"] == ["https://shop.example.com"]


def test_behind_a_proxy_the_redirect_can_be_left_to_it():
    found = read_settings(
        ["SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER"],
        **PRODUCTION_ENV,
        SECURE_SSL_REDIRECT="false",
        USE_X_FORWARDED_PROTO="true",
    )
    assert found["SECURE_SSL_REDIRECT"] is False
    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_production_refuses_to_serve_without_a_secret_key():
    result = run_django("import shop.wsgi\nprint('started')", DEBUG="false")
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_commands_that_sign_nothing_run_without_a_secret_key():
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=BASE_DIR,
        env=child_env(DEBUG="false"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_check_deploy_flags_a_missing_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stdout + result.stderr


def test_check_deploy_is_clean_under_production_environment():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=child_env(**PRODUCTION_ENV),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
