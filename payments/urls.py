from django.urls import path

from payments import views
from payments.wallet_demo import views as demo_views

app_name = "payments"

urlpatterns = [
    path("payments/pay/<str:number>/", views.start, name="start"),
    path("payments/pay/<str:number>/choose/", views.choose, name="choose"),
    path("payments/return/<str:number>/", views.return_page, name="return"),
    path("payments/sandbox/<str:token>/", views.sandbox_page, name="sandbox"),
    path("payments/status/<str:number>/", views.status, name="status"),
    path("payments/wechatpay/<str:number>/", views.wechatpay_page, name="wechatpay"),
    path("payments/webhook/<str:provider>/", views.webhook, name="webhook"),
    # The wallets' offline demo (PAYMENT_WALLETS_DEMO, development only: 404 otherwise).
    path(
        "payments/demo/alipay/gateway.do",
        demo_views.alipay_gateway,
        name="demo-alipay-gateway",
    ),
    path("payments/demo/alipay/pay/", demo_views.alipay_pay, name="demo-alipay-pay"),
    path(
        "payments/demo/wechatpay/api/<path:rest>",
        demo_views.wechatpay_api,
        name="demo-wechatpay-api",
    ),
    path(
        "payments/demo/wechatpay/pay/<str:token>/",
        demo_views.wechatpay_cashier,
        name="demo-wechatpay-cashier",
    ),
    # The cancel button of the order page: cancelling gives money back, so payments owns it.
    path("orders/<str:number>/cancel/", views.cancel_order, name="cancel-order"),
]
