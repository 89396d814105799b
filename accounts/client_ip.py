"""The client's address: X-Forwarded-For is believed only when a configured proxy sent it.

Written by hand, in the rule nginx's real_ip module applies with `real_ip_recursive on`:
walk the forwarded chain from the right, skipping our own proxies; the first address that is
not one of them is the client. django-ipware 8 (python-ipware) reads the chain on its own and
does not treat REMOTE_ADDR as its last hop, so it cannot say "trust the header only from our
nginx" (tried: it answered None for a plain request behind a trusted proxy).
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _is_proxy(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request) -> str:
    """The address of the shopper's machine, as far as our own proxies can vouch for it."""
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not _is_proxy(remote, networks):
        return remote  # straight from the client: any forwarded header is its own claim
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed([hop.strip() for hop in hops if hop.strip()]):
        if not _is_proxy(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # a malformed chain: count the proxy, never the garbage
    return remote
