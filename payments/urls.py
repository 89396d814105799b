from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("payments/pay/<str:number>/", views.start, name="start"),
    path("payments/pay/<str:number>/choose/", views.choose, name="choose"),
    path("payments/return/<str:number>/", views.return_page, name="return"),
    path("payments/sandbox/<str:token>/", views.sandbox_page, name="sandbox"),
    path("payments/status/<str:number>/", views.status, name="status"),
    path("payments/wechatpay/<str:number>/", views.wechatpay_page, name="wechatpay"),
    path("payments/webhook/<str:provider>/", views.webhook, name="webhook"),
    # The cancel button of the order page: cancelling gives money back, so payments owns it.
    path("orders/<str:number>/cancel/", views.cancel_order, name="cancel-order"),
]
