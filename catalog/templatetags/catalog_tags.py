import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def highlight(text: str, query: str) -> str:
    """`text` escaped, with each word of `query` wrapped in <mark>."""
    words = sorted({w for w in (query or "").split() if len(w) >= 2}, key=len, reverse=True)
    escaped = escape(text)
    if not words:
        return escaped
    pattern = re.compile("|".join(re.escape(escape(w)) for w in words), re.IGNORECASE)
    # Safe: the text and the words were escaped above; only our <mark> tags are raw.
    return mark_safe(pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped))  # noqa: S308 # nosec


@register.simple_tag
def stars(average) -> str:
    """Five characters, full stars for the rounded average: "★★★★☆"."""
    full = int(float(average or 0) + 0.5)
    return "★" * full + "☆" * (5 - full)
