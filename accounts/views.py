import io

import axes.utils
import django_otp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts import services, visibility
from accounts.forms import TokenForm
from accounts.redirects import safe_next
from accounts.signals import TWO_FACTOR_SESSION_KEY

# --- Passwords -------------------------------------------------------------------------------


class PasswordChangeView(auth_views.PasswordChangeView):
    """Every signed-in user changes their own password (the current one is asked for); the
    session stays signed in, other sessions of the user are signed out."""

    template_name = "accounts/password_change_form.html"
    success_url = reverse_lazy("password_change_done")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "label_suffix": ""}


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The page behind the one-time link an admin emails (see the user admin's action)."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "label_suffix": ""}

    def form_valid(self, form):
        response = super().form_valid(form)
        # A new password ends any sign-in lockout of the account.
        axes.utils.reset(username=form.user.get_username())
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- Two-factor sign-in ----------------------------------------------------------------------


def _next_url(request) -> str:
    return safe_next(request, reverse(settings.LOGIN_REDIRECT_URL))


def _verified(request, device) -> None:
    """Mark this session as having passed the code step (a new session id: the privilege
    changed)."""
    django_otp.login(request, device)
    request.session[TWO_FACTOR_SESSION_KEY] = True
    request.session.cycle_key()


@never_cache
@login_required
def two_factor(request):
    """Set up two-factor sign-in (QR code, key, first code), or see that it is on and turn it
    off with a current code."""
    user = request.user
    if not visibility.can_use_two_factor(user):
        raise PermissionDenied("Two-factor sign-in is available to administrators and managers.")
    next_url = _next_url(request)
    required = services.two_factor_required(user)
    device = services.confirmed_device(user)
    form = TokenForm(request.POST or None, autofocus=device is None)
    if device is not None:
        if request.method == "POST" and form.is_valid():
            try:
                services.remove_totp_devices(user=user, token=form.cleaned_data["token"])
            except ValidationError as exc:
                form.add_error("token", exc)
            else:
                request.session[TWO_FACTOR_SESSION_KEY] = False
                messages.success(request, "Two-factor sign-in is off.")
                return redirect("two_factor")
        return render(
            request,
            "accounts/two_factor_on.html",
            {"device": device, "form": form, "required": required},
            status=400 if form.is_bound and form.errors else 200,
        )
    try:
        pending = services.start_totp_enrolment(user=user)
    except ValidationError:  # confirmed in another tab meanwhile
        return redirect("two_factor")
    if request.method == "POST" and form.is_valid():
        try:
            device = services.confirm_totp_device(user=user, token=form.cleaned_data["token"])
        except ValidationError as exc:
            form.add_error("token", exc)
        else:
            _verified(request, device)
            messages.success(
                request,
                "Two-factor sign-in is on: after your password you will enter a code from your "
                "authenticator app.",
            )
            return redirect(next_url)
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "secret": services.device_secret(pending),
            "required": required,
            "next": next_url,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@never_cache
@require_safe
@login_required
def two_factor_qr(request):
    """The QR code of the user's pending device, as SVG made here (no outside service)."""
    if not visibility.can_use_two_factor(request.user):
        raise Http404
    try:
        device = services.start_totp_enrolment(user=request.user)
    except ValidationError:
        raise Http404 from None  # already on: the key is never shown again
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, border=2, box_size=10
    )
    out = io.BytesIO()
    image.save(out)
    return HttpResponse(out.getvalue(), content_type="image/svg+xml")


@never_cache
@login_required
def two_factor_verify(request):
    """The step after the password for a user with two-factor sign-in on."""
    user = request.user
    next_url = _next_url(request)
    if user.is_verified():
        return redirect(next_url)
    if not services.has_confirmed_device(user):
        request.session[TWO_FACTOR_SESSION_KEY] = False
        return redirect(next_url)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.verify_totp(user=user, token=form.cleaned_data["token"])
        except ValidationError as exc:
            form.add_error("token", exc)
        else:
            _verified(request, device)
            return redirect(next_url)
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"form": form, "next": next_url},
        status=400 if form.is_bound and form.errors else 200,
    )
