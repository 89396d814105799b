import pytest


@pytest.fixture
def user(db):
    from accounts.tests.factories import UserFactory

    return UserFactory(email="ada@example.com")
