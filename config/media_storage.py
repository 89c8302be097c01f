"""django-storages' S3Storage options for MEDIA_STORAGE=s3 (any S3-compatible object store)."""

from __future__ import annotations

from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured


def s3_options(
    *,
    bucket: str,
    endpoint_url: str = "",
    region: str = "",
    access_key: str = "",
    secret_key: str = "",
    url_max_age_s: int = 300,
) -> dict:
    """Empty credentials fall back to boto3's own lookup (AWS_* variables, an instance role).

    :param url_max_age_s: lifetime of the presigned URLs media requests are redirected to.
    """
    if not bucket:
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs MEDIA_S3_BUCKET.")
    return {
        "bucket_name": bucket,
        "endpoint_url": endpoint_url or None,
        "region_name": region or None,
        "access_key": access_key or None,
        "secret_key": secret_key or None,
        "querystring_expire": url_max_age_s,
        "file_overwrite": True,
        "default_acl": None,
        # Self-hosted stores (MinIO, Ceph, moto) rarely have per-bucket DNS names.
        "addressing_style": "path" if endpoint_url else None,
        # Fail fast when the store is down: copies retry later and /readyz says so.
        "client_config": Config(
            connect_timeout=3, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"}
        ),
    }
