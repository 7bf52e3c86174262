"""A one-file Django project rendering a template view, configured in code."""
import os

import django
from django.conf import settings

HERE = os.path.dirname(os.path.abspath(__file__))

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        INSTALLED_APPS=[],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [os.path.join(HERE, "djbench", "templates")]}],
    )
    django.setup()

from django.shortcuts import render  # noqa: E402
from django.urls import path  # noqa: E402


def page(request):
    rows = [{"id": i, "name": "row %d" % i} for i in range(20)]
    return render(request, "page.html", {"title": "Bench", "rows": rows})


urlpatterns = [path("page/", page)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
