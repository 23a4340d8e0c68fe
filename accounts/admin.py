from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import Team, User
from accounts.visibility import can_administer


class AdminLoginForm(AdminAuthenticationForm):
    """The admin login admits admins (role ``admin`` or superusers), the same rule as
    ``admin.site.has_permission``; Django's ``is_staff`` flag plays no part here."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": (
            "Please enter the username and password of an administrator account. Both "
            "fields may be case-sensitive; reps and managers sign in at the main login page."
        ),
    }

    def confirm_login_allowed(self, user):
        AuthenticationForm.confirm_login_allowed(self, user)
        if not can_administer(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


admin.site.login_form = AdminLoginForm


class MemberInline(admin.TabularInline):
    model = User
    fields = ("username", "first_name", "last_name", "role", "is_active")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "members"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "manager")
    search_fields = ("name",)
    autocomplete_fields = ("manager",)
    inlines = [MemberInline]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "first_name", "last_name", "email", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active", "is_staff")
    list_select_related = ("team",)
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Sales", {"fields": ("role", "team")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        ("Sales", {"fields": ("first_name", "last_name", "email", "role", "team")}),
    )
    actions = ["send_password_reset"]

    @admin.action(description="Email a one-time link to choose a new password")
    def send_password_reset(self, request, queryset):
        """The admin never sees or sets the password: each selected user gets a link that
        works once and expires (for a new user, it is how they choose their first password)."""
        base_url = settings.OPPORTUNE_BASE_URL or request.build_absolute_uri("/")
        sent = []
        for user in queryset:
            try:
                services.send_password_reset(user=user, base_url=base_url)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                sent.append(user.get_username())
        if sent:
            self.message_user(
                request,
                f"Password link sent to {', '.join(sent)}. It works once and expires in "
                f"{settings.PASSWORD_RESET_TIMEOUT // 3600} hours.",
                messages.SUCCESS,
            )
