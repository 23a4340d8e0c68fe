from django.urls import path

from accounts import views

urlpatterns = [
    path("accounts/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("accounts/two-factor/", views.two_factor, name="two_factor"),
    path("accounts/two-factor/qr.svg", views.two_factor_qr, name="two_factor_qr"),
    path("accounts/two-factor/verify/", views.two_factor_verify, name="two_factor_verify"),
]
