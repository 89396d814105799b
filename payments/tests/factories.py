import copy
from decimal import Decimal

from orders.tests.factories import order_of
from payments import gateway, services
from payments.models import Payment

RETURN = "http://testserver/payments/return/"


def sandbox_order(*, price=Decimal("10.00"), quantity=1, **kwargs):
    """A placed order awaiting payment by the sandbox (total = price * quantity + 5.00)."""
    order, _variant = order_of(quantity, price=price, payment="sandbox", **kwargs)
    return order


def start(order, provider="sandbox") -> Payment:
    payment, _result = services.start_payment(
        order=order, provider_code=provider, return_url=RETURN, cancel_url=RETURN
    )
    return payment


def deliver(payment, outcome="pay", **kwargs):
    """Build the signed sandbox callback and take it in as the webhook would."""
    body, headers = gateway.build_callback(payment=payment, outcome=outcome, **kwargs)
    return (
        body,
        headers,
        services.receive_callback(provider_code="sandbox", body=body, headers=headers),
    )


def enable_providers(settings, codes: list[str]) -> None:
    """Turn payment providers on as settings.py would from PAYMENT_PROVIDERS: the methods
    checkout offers, and the policy's form-action, which must name the gateways checkout
    redirects to (the browser checks every redirect of a form's navigation)."""
    settings.PAYMENT_PROVIDERS = list(codes)
    settings.SHOP_PAYMENT_METHODS = [(c, settings.PAYMENT_PROVIDER_LABELS[c]) for c in codes]
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    form_action = policy["DIRECTIVES"]["form-action"]
    for code in codes:
        form_action += [
            origin
            for origin in settings.PAYMENT_PROVIDER_FORM_ORIGINS.get(code, [])
            if origin not in form_action
        ]
    settings.CONTENT_SECURITY_POLICY = policy


def enable_wallets_demo(settings, keys_file) -> None:
    """The wallets' offline demo on, as settings.py turns it on for `SHOP_CURRENCY=CNY make
    run` (DEBUG on, both wallets first, the demo accounts' keys from `keys_file`)."""
    from payments.wallet_demo import keys

    settings.DEBUG = True
    settings.PAYMENT_WALLETS_DEMO = True
    settings.PAYMENT_WALLETS_DEMO_KEYS_FILE = keys_file
    settings.SHOP_CURRENCY = "CNY"
    settings.ALIPAY_NOTIFY_BASE_URL = ""
    for name, value in keys.wallet_settings(keys.load_or_create(keys_file)).items():
        setattr(settings, name, value)
    enable_providers(settings, ["alipay", "wechatpay", "manual", "sandbox"])
