from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import ChoiceField, IsoDateTimeField

from api.serializers.generations import PUBLIC_STATUSES
from generations.models import Generation, Job, JobKind, Status


class _NotEmpty:
    """`?status=` is refused (400), not read as no filter: the schema allows no empty value, and a
    client that sends one has a bug worth hearing about. A parameter left out filters nothing."""

    def clean(self, value):
        if value == "":
            raise ValidationError("Must not be empty; leave the parameter out instead.", "empty")
        return super().clean(value)


class _NotEmptyChoiceField(_NotEmpty, ChoiceField):
    pass


class _UtcDateTimeField(_NotEmpty, IsoDateTimeField):
    """An ISO 8601 time the database can hold: 9999-12-31T23:59:59-14:00 is past year 9999 in
    UTC, which would overflow when the query is built."""

    def clean(self, value):
        value = super().clean(value)
        try:
            return value.astimezone(UTC) if value is not None else None
        except OverflowError:
            raise ValidationError("Out of range.", code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _UtcDateTimeField


class NotEmptyChoiceFilter(django_filters.ChoiceFilter):
    field_class = _NotEmptyChoiceField


class GenerationFilter(django_filters.FilterSet):
    status = NotEmptyChoiceFilter(choices=[(s, s) for s in PUBLIC_STATUSES], method="filter_status")
    created_after = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Created at or after (ISO 8601)."
    )
    created_before = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Created before (ISO 8601)."
    )

    class Meta:
        model = Generation
        fields = ("status", "created_after", "created_before")

    def filter_status(self, queryset, name, value):
        if value == Status.QUEUED:
            return queryset.filter(status__in=(Status.QUEUED, Status.SUBMITTING))
        return queryset.filter(status=value)


class JobFilter(django_filters.FilterSet):
    kind = NotEmptyChoiceFilter(choices=JobKind.choices)

    class Meta:
        model = Job
        fields = ("kind",)
