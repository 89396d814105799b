from django.urls import path

from groupbuys import views

app_name = "groupbuys"

urlpatterns = [
    path("groups/<str:code>/", views.group_detail, name="group"),
    path("groups/<str:code>/join/", views.join_group, name="join"),
    path("group-offers/<int:offer_id>/start/", views.start_group, name="start"),
]
