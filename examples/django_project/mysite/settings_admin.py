"""The example with Django's admin, sessions and auth on a sqlite database: the production
recipe of examples/django_project/deploy/ (nginx in front, the server on a unix socket).

    DJANGO_SETTINGS_MODULE=mysite.settings_admin DJANGO_DB_PATH=/var/lib/mysite/db.sqlite3 \
        python manage.py migrate
"""
import os

from .settings import *  # noqa: F401,F403 (the base example's settings, extended below)
from .settings import BASE_DIR, MIDDLEWARE, TEMPLATES

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]

MIDDLEWARE = MIDDLEWARE[:1] + [
    "django.contrib.sessions.middleware.SessionMiddleware",
] + MIDDLEWARE[1:] + [
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [{
    **TEMPLATES[0],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

ROOT_URLCONF = "mysite.urls_admin"
