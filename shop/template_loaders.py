"""Templates kept per language, their constant `{% translate "..." %}` written out once.

A `{% translate "Subtotal" %}` costs about 13 µs a render (a lazy string made, the active
language read from asgiref's Local, the catalog asked, the result escaped): some 45 of them
a purchase (the checkout summary, the review, the placed mail's two bodies) were a twentieth
of its CPU. Its output depends only on the active language and whether the context escapes,
so this loader (Django's cached loader, the same sources) keeps each template once per
language and replaces each such node by its two renderings, made when the template is
loaded. Anything else (variables, filters, `asvar`, a context, `noop`) is left as it was, as
is whatever sits inside `{% language %}` (rendered in another language than the page's).
"""

from django.template import Context
from django.template.base import Node, NodeList
from django.template.defaulttags import IfNode
from django.template.loaders import cached
from django.templatetags.i18n import LanguageNode, TranslateNode
from django.utils.translation import get_language


class Loader(cached.Loader):
    def cache_key(self, template_name, skip=None):
        return f"{super().cache_key(template_name, skip)}:{get_language()}"

    def get_template(self, template_name, skip=None):
        template = super().get_template(template_name, skip)
        if not getattr(template, "translated_once", False):
            _translate_once(template.nodelist)
            template.translated_once = True
        return template


class TranslatedNode(Node):
    """A constant `{% translate %}`, as it renders in the language its template was kept
    for: escaped or not, as the context asks."""

    child_nodelists = ()

    def __init__(self, node: TranslateNode):
        self.token, self.origin = node.token, node.origin
        self.escaped = node.render(Context(autoescape=True))
        self.plain = node.render(Context(autoescape=False))

    def render(self, context):
        return self.escaped if context.autoescape else self.plain


def _constant(node: Node) -> bool:
    expression = node.filter_expression
    return (
        not node.noop
        and node.asvar is None
        and node.message_context is None
        and not expression.filters
        and getattr(expression.var, "literal", None) is not None
    )


def _translate_once(nodelist: NodeList) -> None:
    for index, node in enumerate(nodelist):
        if isinstance(node, TranslateNode) and _constant(node):
            nodelist[index] = TranslatedNode(node)
        elif isinstance(node, LanguageNode):
            continue
        elif isinstance(node, IfNode):  # its `nodelist` is made anew on each read
            for _condition, branch in node.conditions_nodelists:
                _translate_once(branch)
        else:
            for name in node.child_nodelists:
                if isinstance(child := getattr(node, name, None), NodeList):
                    _translate_once(child)
