"""The upload request: one audio file in a multipart form, and an optional title."""

from __future__ import annotations

from rest_framework import serializers

from api.fields import UnknownFieldsRefused
from generations.uploads import TITLE_MAX


class UploadSerializer(UnknownFieldsRefused, serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=False,
        use_url=False,
        help_text="The audio, one file: MP3 or WAV (recognised from its bytes; the file name "
        "and its Content-Type are not trusted), 6-60 s long, at most 20 MiB by default.",
    )
    title = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=TITLE_MAX,
        help_text="The clip's title; by default the file's name without its extension.",
    )
