"""Routes of the orders example; templates as iamguard sees them are in views.py's docstring."""

from django.urls import include, path
from django_iamguard.endpoints import auth_urlpatterns

from django_shop import views
from django_shop.shop import CurrentCredentials

urlpatterns = [
    path("orders", views.orders, name="orders"),
    path("orders/<str:order_id>", views.OrderView.as_view(), name="order"),
    path("health", views.health, name="health"),
    path("auth/", include(auth_urlpatterns(CurrentCredentials()))),
]
