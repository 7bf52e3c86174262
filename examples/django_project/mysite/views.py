import platform

import django
from django import forms
from django.shortcuts import render


class ContactForm(forms.Form):
    name = forms.CharField(max_length=100)
    message = forms.CharField(widget=forms.Textarea, max_length=2000)


def home(request):
    return render(request, "home.html", {
        "django_version": django.get_version(),
        "python_version": platform.python_version(),
        "server": request.META.get("SERVER_SOFTWARE", ""),
    })


def contact(request):
    # CsrfViewMiddleware has already checked the token of a POST by the time we get here.
    if request.method == "POST":
        form = ContactForm(request.POST)
        if form.is_valid():
            return render(request, "thanks.html", {"name": form.cleaned_data["name"]})
    else:
        form = ContactForm()
    return render(request, "contact.html", {"form": form})
