"""The admin shows the domain and never edits state behind the services' back.

Generations and clips are read-only (status, counters, poll bookkeeping and vendor URLs move only
through `generations.states` and the workers); what an operator may do to them is an action
that calls the same service the API calls. The per-generation webhook secret is never shown.
"""

from django.conf import settings
from django.contrib import admin, messages

from generations import services
from generations.errors import DomainError
from generations.models import (
    Account,
    Clip,
    Generation,
    Job,
    JobFile,
    LedgerEntry,
    Persona,
    Plan,
    VendorBalance,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the delete action goes through the service (quota, stored files)


class ClipInline(admin.TabularInline):
    model = Clip
    extra = 0
    fields = ("id", "state", "title", "duration", "model", "error_detail")
    readonly_fields = fields
    can_delete = False


@admin.register(Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner", "status", "mode", "operation", "model", "created_at")
    list_filter = ("status", "mode", "operation", "model", "error_code")
    search_fields = ("id", "owner__username", "vendor_task_id", "title", "description")
    date_hierarchy = "created_at"
    inlines = [ClipInline]
    exclude = ("webhook_secret",)
    actions = ["cancel", "delete_with_media"]

    @admin.action(description="Cancel the selected generations", permissions=["view"])
    def cancel(self, request, queryset):
        self._each(request, queryset, services.generation_cancel, "canceled")

    @admin.action(
        description="Delete the selected generations and their audio", permissions=["view"]
    )
    def delete_with_media(self, request, queryset):
        self._each(request, queryset, services.generation_delete, "deleted")

    def _each(self, request, queryset, service, done: str) -> None:
        count = 0
        for generation in queryset:
            try:
                service(generation=generation)
                count += 1
            except DomainError as exc:
                self.message_user(request, f"{generation.pk}: {exc}", messages.WARNING)
        self.message_user(request, f"{count} {done}.")


@admin.register(Clip)
class ClipAdmin(ReadOnlyAdmin):
    list_display = ("id", "generation", "state", "title", "duration", "created_at")
    list_filter = ("state",)
    search_fields = ("id", "vendor_clip_id", "title")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "period",
        "credits_per_period",
        "max_in_flight",
        "creates_per_minute",
    )


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("user", "plan", "used", "in_flight", "period_start")
    list_filter = ("plan",)
    search_fields = ("user__username",)
    # Counters move only through generations.quotas; the admin assigns plans.
    readonly_fields = ("used", "in_flight", "period_start")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "user",
        "kind",
        "operation",
        "units",
        "generation",
        "period_start",
    )
    list_filter = ("kind",)
    search_fields = ("user__username", "generation__id")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


class JobFileInline(admin.TabularInline):
    model = JobFile
    extra = 0
    fields = ("id", "name", "media_state", "media_error", "size", "copied_at")
    readonly_fields = fields
    can_delete = False


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    """Read-only like generations: status and settlement move only through `generations.jobs`."""

    list_display = ("id", "owner", "kind", "status", "error_code", "settled", "created_at")
    list_filter = ("kind", "status", "error_code", "settled")
    search_fields = ("id", "owner__username", "vendor_task_id", "vendor_clip_id")
    date_hierarchy = "created_at"
    inlines = [JobFileInline]


@admin.register(Persona)
class PersonaAdmin(ReadOnlyAdmin):
    """Read-only: a persona's status is its job's."""

    list_display = ("id", "owner", "name", "status", "created_at")
    search_fields = ("id", "owner__username", "name")
    date_hierarchy = "created_at"
    list_select_related = ("owner", "job")

    @admin.display(description="status")
    def status(self, obj: Persona) -> str:
        return obj.job.status


@admin.register(VendorBalance)
class VendorBalanceAdmin(ReadOnlyAdmin):
    """The vendor account's credits, read every minute by a worker (`/readyz` is "degraded"
    below VENDOR_CREDITS_LOW_THRESHOLD)."""

    list_display = ("credits", "extra_credits", "total", "below_threshold", "checked_at", "error")

    @admin.display(description="total")
    def total(self, obj: VendorBalance) -> int | None:
        return obj.total

    @admin.display(boolean=True, description="below threshold")
    def below_threshold(self, obj: VendorBalance) -> bool | None:
        return None if obj.total is None else obj.total < settings.VENDOR_CREDITS_LOW_THRESHOLD
