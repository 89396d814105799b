import json

import pytest

from shop.tests.utils import PRODUCTION_ENV, run_django

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        # Port 1 on loopback: nothing listens there, connections are refused at once.
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
        },
    }
}


@pytest.mark.django_db
def test_healthz_reports_ok_when_database_and_cache_answer(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_is_degraded_but_up_when_the_cache_is_down(client, settings):
    settings.CACHES = UNREACHABLE_REDIS
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "cache": "down"}


def test_healthz_answers_503_when_the_database_is_down():
    result = run_django(
        "from django.test import Client\n"
        "response = Client().get('/healthz', headers={'host': 'localhost'})\n"
        "print(json.dumps({'status': response.status_code, 'body': response.json()}))",
        DEBUG="true",
        # Port 1 on loopback: no PostgreSQL there, the connection is refused at once.
        DATABASE_URL="postgres://postgres@127.0.0.1:1/shop",
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {
        "status": 503,
        "body": {"status": "down", "database": "down", "cache": "ok"},
    }


@pytest.mark.django_db
def test_livez_answers_without_touching_the_database(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(0):
        response = client.get("/livez")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_a_page_the_database_cannot_serve_is_a_503_that_says_try_again():
    """PostgreSQL down or restarting: the shopper gets the shop's own page, not a traceback,
    and a client is told when to come back (bench/chaos.py restarts a real one under load)."""
    result = run_django(
        "from django.test import Client\n"
        "client = Client(raise_request_exception=False)\n"
        "response = client.get('/products/', headers={'host': 'shop.example.com'}, secure=True)\n"
        "print(json.dumps({'status': response.status_code,\n"
        "    'retry': response.get('Retry-After'), 'html': response.content.decode()}))",
        **PRODUCTION_ENV,
        # No collectstatic in the suite: plain static URLs.
        STATICFILES_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
        # Port 1 on loopback: no PostgreSQL there, the connection is refused at once.
        DATABASE_URL="postgres://postgres@127.0.0.1:1/shop",
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503 and answer["retry"] == "10"
    assert "Back in a moment" in answer["html"] and 'class="site-header"' in answer["html"]
    assert "Traceback" not in answer["html"] and "OperationalError" not in answer["html"]
