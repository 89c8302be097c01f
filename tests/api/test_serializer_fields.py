"""The generation, clip and job serializers build their fields from the model once per class,
not for every response (DRF introspects the model on each instance: most of the CPU of
serializing a generation); each instance still has fields of its own."""

from __future__ import annotations

from unittest import mock

import pytest
from rest_framework import serializers

from api.serializers.generations import ClipSerializer, GenerationSerializer
from api.serializers.jobs import JobFileSerializer, JobSerializer

SERIALIZERS = (GenerationSerializer, ClipSerializer, JobSerializer, JobFileSerializer)


def test_fields_are_built_from_the_model_once_per_class():
    for serializer in SERIALIZERS:
        assert serializer().fields  # built here, or already
    build = mock.patch.object(
        serializers.ModelSerializer,
        "build_field",
        autospec=True,
        side_effect=serializers.ModelSerializer.build_field,
    )
    with build as spy:
        for serializer in SERIALIZERS:
            assert serializer().fields
    assert spy.call_count == 0


def test_each_instance_has_its_own_fields():
    first, second = GenerationSerializer(), GenerationSerializer()
    assert first.fields["status"] is not second.fields["status"]
    assert first.fields["status"].parent is first
    assert second.fields["clips"].parent is second
    assert set(first.fields) == set(GenerationSerializer.Meta.fields)


@pytest.mark.django_db
def test_a_new_generation_is_shown_without_building_a_query(alice, broker):
    """It has no clips yet, and the service says so: the 202 answer neither runs nor compiles a
    query for them (iterating an empty queryset still compiled its SELECT)."""
    from django.db.models.sql.compiler import SQLCompiler
    from django.test import RequestFactory
    from rest_framework.request import Request

    from api.tokens import token_create
    from generations import services

    created = services.generation_create(owner=alice, request={"description": "calm piano"})
    request = Request(RequestFactory().post("/api/v1/generations"))
    request.user, request.auth = alice, token_create(user=alice, name="t").token
    compile_sql = mock.patch.object(
        SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql
    )
    with compile_sql as spy:
        shown = GenerationSerializer(created.generation, context={"request": request}).data
    assert shown["clips"] == []
    assert spy.call_count == 0
