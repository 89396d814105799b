from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("payments/pay/<str:number>/", views.start, name="start"),
    path("payments/pay/<str:number>/choose/", views.choose, name="choose"),
    path("payments/return/<str:number>/", views.return_page, name="return"),
    path("payments/sandbox/<str:token>/", views.sandbox_page, name="sandbox"),
    path("payments/webhook/<str:provider>/", views.webhook, name="webhook"),
]
