from django.contrib import admin
from django.urls import path

from .urls import urlpatterns as site_urls

urlpatterns = [path("admin/", admin.site.urls), *site_urls]
