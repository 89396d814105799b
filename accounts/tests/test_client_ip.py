import pytest

from accounts.client_ip import client_ip


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        ([], "192.0.2.1", None, "192.0.2.1"),
        ([], "192.0.2.1", "203.0.113.5", "192.0.2.1"),  # not from a proxy: header ignored
        (["10.0.0.0/8"], "10.0.0.5", "203.0.113.5", "203.0.113.5"),
        (["10.0.0.0/8"], "10.0.0.5", "6.6.6.6, 203.0.113.5", "203.0.113.5"),  # forged prefix
        (["10.0.0.0/8"], "10.0.0.5", "203.0.113.5, 10.0.0.9", "203.0.113.5"),  # two of ours
        (["10.0.0.0/8"], "198.51.100.7", "6.6.6.6", "198.51.100.7"),  # around the proxy
        (["10.0.0.0/8"], "10.0.0.5", "not-an-ip", "10.0.0.5"),
        (["10.0.0.0/8"], "10.0.0.5", None, "10.0.0.5"),
        (["::1"], "::1", "2001:db8::7", "2001:db8::7"),
    ],
)
def test_client_ip(rf, settings, proxies, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = proxies
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(rf.get("/", **meta)) == expected
