import django_filters

from api.serializers.generations import PUBLIC_STATUSES
from generations.models import Generation, Status


class GenerationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[(s, s) for s in PUBLIC_STATUSES], method="filter_status"
    )
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Created at or after (ISO 8601)."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Created before (ISO 8601)."
    )

    class Meta:
        model = Generation
        fields = ("status", "created_after", "created_before")

    def filter_status(self, queryset, name, value):
        if value == Status.QUEUED:
            return queryset.filter(status__in=(Status.QUEUED, Status.SUBMITTING))
        return queryset.filter(status=value)
