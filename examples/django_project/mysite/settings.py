"""Settings of a minimal Django project served by nodicorn.

No database and no contrib apps: a template view and a form protected by CSRF are enough to
exercise the server (cookies, POST bodies, redirects, 403/404 pages with DEBUG off).
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# A demo key; set DJANGO_SECRET_KEY in anything that is not a demo.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "nodicorn-example-not-secret-0123456789abcdefghijklmnop")
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = []

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    },
]

DATABASES = {}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
