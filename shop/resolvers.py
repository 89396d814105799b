"""URL resolving that remembers where a shopper page's path leads.

Django resolves each request's path from scratch: for a product page four resolver levels,
the catalog's patterns tried one by one, the language prefix read twice, a `ResolverMatch`
made at each level (about 0.2 M instructions; the checkout's steps, after the catalog's and
the cart's patterns, more). What a path resolves to depends only on the URLconf, the active
language and the path, so the shopper pages' resolver keeps its answers per language and
path, in a bounded cache of each process.
"""

from functools import lru_cache

from django.urls import URLResolver
from django.urls.resolvers import ResolverMatch
from django.utils.translation import get_language

#: Paths kept per process: every page of the bench's rotations (300 products, 140 categories)
#: and the purchase's steps, in about 2 MiB (an entry is about 2 KB with its `tried` lists).
#: A crawler's made-up addresses only push the least asked ones out; paths that resolve to
#: nothing (404s) are never kept.
KEPT_PATHS = 1024


class KeptMatchesResolver(URLResolver):
    """A URLResolver (i18n_patterns', with its LocalePrefixPattern) that remembers its
    matches per active language and path.

    Each request gets its own ResolverMatch, its dicts and lists copied from the kept one:
    nothing a view or middleware changes on `request.resolver_match` reaches another
    request. reverse() does not go through resolve(): it is Django's, unchanged.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._kept = lru_cache(maxsize=KEPT_PATHS)(self._resolve_in)

    def _resolve_in(self, language, path):
        """Django's answer, `language` being the active one (it is part of the key only)."""
        return super().resolve(path)

    def resolve(self, path):
        kept = self._kept(get_language(), str(path))
        match = ResolverMatch.__new__(ResolverMatch)
        match.__dict__.update(kept.__dict__)
        match.kwargs = {**kept.kwargs}
        match.captured_kwargs = {**kept.captured_kwargs}
        match.extra_kwargs = {**kept.extra_kwargs}
        match.app_names = [*kept.app_names]
        match.namespaces = [*kept.namespaces]
        match.tried = [*kept.tried]
        return match


def keep_matches(resolvers: list[URLResolver]) -> list[KeptMatchesResolver]:
    """`resolvers` (what i18n_patterns() returns) as KeptMatchesResolvers."""
    return [
        KeptMatchesResolver(
            resolver.pattern,
            resolver.urlconf_name,
            resolver.default_kwargs,
            resolver.app_name,
            resolver.namespace,
        )
        for resolver in resolvers
    ]
