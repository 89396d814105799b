from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/review/", views.review, name="review"),
    path("checkout/place/", views.place, name="place"),
    path("account/orders/", views.order_list, name="list"),
    path("orders/<str:number>/", views.detail, name="detail"),
    path("orders/<str:number>/invoice/", views.invoice, name="invoice"),
    path("orders/<str:number>/invoice.pdf", views.invoice_pdf, name="invoice-pdf"),
    path(
        "orders/<str:number>/credit-notes/<str:credit_note>/",
        views.credit_note,
        name="credit-note",
    ),
    path(
        "orders/<str:number>/credit-notes/<str:credit_note>.pdf",
        views.credit_note_pdf,
        name="credit-note-pdf",
    ),
    path("orders/<str:number>/confirm-receipt/", views.confirm_receipt, name="confirm-receipt"),
    path("orders/<str:number>/return/", views.request_return, name="request-return"),
    path("orders/<str:number>/account/", views.create_account, name="create-account"),
    path("tracking/kuaidi100/", views.kuaidi100_push, name="kuaidi100-push"),
]
