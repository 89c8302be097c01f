from django.contrib import admin

from generations.models import Account, Clip, Generation, LedgerEntry, Plan


class ClipInline(admin.TabularInline):
    model = Clip
    extra = 0
    fields = ("id", "state", "title", "duration", "model", "error_detail")
    readonly_fields = fields
    can_delete = False


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "status", "mode", "operation", "model", "created_at")
    list_filter = ("status", "mode", "operation", "model", "error_code")
    search_fields = ("id", "owner__username", "vendor_task_id", "title", "description")
    date_hierarchy = "created_at"
    inlines = [ClipInline]
    # Status moves only through generations.states; the admin shows it, never edits it.
    readonly_fields = (
        "status",
        "vendor_task_id",
        "error_code",
        "error_detail",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
    )


@admin.register(Clip)
class ClipAdmin(admin.ModelAdmin):
    list_display = ("id", "generation", "state", "title", "duration", "created_at")
    list_filter = ("state",)
    search_fields = ("id", "vendor_clip_id", "title")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "period",
        "generations_per_period",
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
    list_display = ("created_at", "user", "kind", "units", "generation", "period_start")
    list_filter = ("kind",)
    search_fields = ("user__username", "generation__id")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
