"""Django admin for admins: pipelines with their stages inline, lost reasons, and read-only
views of deals and their history. Stages of a deal are never edited here: the services
move deals and record transitions."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import connections
from django.forms.models import BaseInlineFormSet
from simple_history.admin import SimpleHistoryAdmin

from pipeline import board_cache
from pipeline.models import (
    Activity,
    Company,
    Contact,
    ExchangeRate,
    ExitCriterion,
    Lead,
    LostReason,
    Opportunity,
    Pipeline,
    Product,
    ProductPrice,
    Stage,
    StageTransition,
)
from pipeline.services import closed_rates


class StageForm(forms.ModelForm):
    exit_criteria = forms.MultipleChoiceField(
        choices=ExitCriterion.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="A deal missing any of these is refused when moved into this stage.",
    )

    class Meta:
        model = Stage
        fields = (
            "position",
            "name",
            "kind",
            "probability",
            "forecast_category",
            "rot_after_days",
            "exit_criteria",
        )

    def clean(self):
        cleaned = super().clean()
        # Deals in a stage take its kind as their state (open, won, lost): turning a stage
        # that holds deals into a won or lost one would close them without a closed date,
        # lost reason or transition. They must be moved first.
        if self.instance.pk and "kind" in self.changed_data:
            count = self.instance.opportunities.count()
            if count:
                kind = cleaned.get("kind")
                self.add_error(
                    "kind",
                    f"{count} deal{'s are' if count != 1 else ' is'} in this stage; move "
                    f"{'them' if count != 1 else 'it'} to another stage before changing its kind.",
                )
                # Keep the chosen kind for the model's own checks, so they judge probability
                # and forecast category against what the admin picked, not the old kind.
                if kind:
                    cleaned["kind"] = kind
        return cleaned


class StageFormSet(BaseInlineFormSet):
    """A pipeline has exactly one won stage and at least one lost stage, and names are unique."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kinds, names = [], set()
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            kinds.append(form.cleaned_data.get("kind"))
            name = (form.cleaned_data.get("name") or "").strip().lower()
            if name in names:
                raise ValidationError(f"Two stages are named “{form.cleaned_data['name']}”.")
            names.add(name)
        won, lost, open_ = kinds.count("won"), kinds.count("lost"), kinds.count("open")
        problems = []
        if won != 1:
            problems.append(f"a pipeline needs exactly one won stage (this one has {won})")
        if lost < 1:
            problems.append("a pipeline needs at least one lost stage")
        if open_ < 1:
            problems.append("a pipeline needs at least one open stage")
        if problems:
            raise ValidationError("Please fix the stages: " + "; ".join(problems) + ".")


class BoardCacheAdmin(admin.ModelAdmin):
    """Saves and deletions here change what boards show (stages, names, lost reasons): cached
    boards are invalidated (pipeline/board_cache.py)."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        board_cache.changed()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        board_cache.changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        board_cache.changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        board_cache.changed()


class StageInline(admin.TabularInline):
    model = Stage
    form = StageForm
    formset = StageFormSet
    extra = 0
    ordering = ("position", "id")


@admin.register(Pipeline)
class PipelineAdmin(BoardCacheAdmin):
    list_display = (
        "name", "position", "is_active", "probability_source", "model_eligible", "stage_list"
    )  # fmt: skip
    readonly_fields = ("model_eligible",)
    list_editable = ("position", "is_active")
    inlines = [StageInline]

    @admin.display(description="Stages")
    def stage_list(self, obj):
        return " → ".join(s.name for s in obj.stages.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("stages")


@admin.register(LostReason)
class LostReasonAdmin(BoardCacheAdmin):
    list_display = ("name", "position", "is_active")
    list_editable = ("position", "is_active")


@admin.register(Company)
class CompanyAdmin(BoardCacheAdmin):
    list_display = ("name", "industry", "city", "country", "owner")
    search_fields = ("name", "website")
    list_select_related = ("owner",)
    autocomplete_fields = ("owner",)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("full_name", "email", "company", "is_decision_maker", "owner")
    search_fields = ("first_name", "last_name", "email")
    list_select_related = ("company", "owner")
    autocomplete_fields = ("company", "owner")


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "source", "owner", "created_at")
    list_filter = ("status", "source")
    search_fields = ("first_name", "last_name", "email", "company_name")
    list_select_related = ("owner",)
    readonly_fields = ("status", "opportunity", "qualified_at", "converted_at", "disqualified_at")
    autocomplete_fields = ("owner", "company", "contact")


class TransitionInline(admin.TabularInline):
    model = StageTransition
    fields = ("changed_at", "from_stage", "to_stage", "changed_by", "amount", "probability")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Opportunity)
class OpportunityAdmin(SimpleHistoryAdmin):
    """Read-mostly: deals change through the app's pages, which record their history."""

    list_display = ("name", "company", "owner", "stage", "amount", "expected_close_date")
    list_filter = ("pipeline", "stage__kind", "stage")
    search_fields = ("name", "company__name")
    list_select_related = ("company", "owner", "stage")
    readonly_fields = [f.name for f in Opportunity._meta.fields]
    inlines = [TransitionInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting a deal would erase its stage history and skew past forecasts and win
        # rates; close it as lost instead.
        return False


@admin.register(StageTransition)
class StageTransitionAdmin(admin.ModelAdmin):
    list_display = ("opportunity", "from_stage", "to_stage", "changed_by", "changed_at", "amount")
    list_select_related = ("opportunity", "from_stage", "to_stage", "changed_by")
    list_filter = ("to_stage__pipeline",)
    date_hierarchy = "changed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ActivityForm(forms.ModelForm):
    """Says in words what the database constraints on activities would refuse."""

    class Meta:
        model = Activity
        fields = (
            "kind",
            "subject",
            "body",
            "owner",
            "lead",
            "opportunity",
            "contact",
            "company",
            "occurred_at",
            "due_on",
            "done_at",
        )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") and cleaned["kind"] != Activity.Kind.TASK:
            for field in ("due_on", "done_at"):
                if cleaned.get(field):
                    self.add_error(field, "Only tasks have a due date or a done time.")
        if not any(cleaned.get(f) for f in ("lead", "opportunity", "contact", "company")):
            self.add_error(
                "opportunity", "Attach the activity to a lead, deal, contact or company."
            )
        return cleaned


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    form = ActivityForm
    list_display = ("subject", "kind", "owner", "occurred_at", "due_on", "done_at")
    list_filter = ("kind",)
    search_fields = ("subject",)
    list_select_related = ("owner",)
    raw_id_fields = ("lead", "opportunity", "contact", "company")


class ProductPriceInline(admin.TabularInline):
    model = ProductPrice
    extra = 1
    fields = ("currency", "unit_price")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """The catalogue reps sell from. Deactivate a product rather than delete it: deals that
    sell it keep it."""

    list_display = ("name", "code", "category", "is_active", "price_list")
    list_filter = ("is_active", "category")
    search_fields = ("name", "code", "category")
    inlines = [ProductPriceInline]

    @admin.display(description="List prices")
    def price_list(self, obj):
        return ", ".join(f"{p.currency} {p.unit_price}" for p in obj.prices.all()) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("prices")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(BoardCacheAdmin):
    """Dated rates that convert deal amounts to the reporting currency (pipeline.conversion):
    one per currency per day, holding until the next. ``manage.py load_exchange_rates`` loads
    a CSV of them."""

    list_display = ("currency", "on_date", "rate")
    list_filter = ("currency",)
    date_hierarchy = "on_date"
    ordering = ("currency", "-on_date")

    def delete_queryset(self, request, queryset):
        # The closed deals' stored rates are refreshed once for the whole selection.
        with closed_rates.one_refresh(connections[queryset.db]):
            super().delete_queryset(request, queryset)
