"""`make run`'s set-up: settings, reachability of what they name, migrations, the demo token.

Every mistake an operator can make here is a `SetupError`: one line naming the variable to fix,
printed by the launcher without a traceback.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

CONNECT_TIMEOUT_S = 5
DEMO_TOKEN_NAME = "make run"


class SetupError(Exception):
    """A mistake the operator fixes: printed as one line, no traceback."""


def redacted(url: str) -> str:
    """The URL without its password, fit for a message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}{netloc}"))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _load_settings() -> None:
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise SetupError(_reason(exc)) from None


def _check_database() -> None:
    from django.db import connection

    url = os.environ.get("DATABASE_URL") or "the default SQLite file"
    try:
        if connection.vendor == "postgresql":
            import psycopg

            # Directly, not through the pool: the pool logs every retry and then reports only
            # a timeout, where libpq names the cause.
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
        connection.ensure_connection()
    except Exception as exc:  # any driver error: the message names the cause
        raise SetupError(
            f"DATABASE_URL: cannot connect to {redacted(url)}: {_reason(exc)}"
        ) from None


def _check_redis(variable: str, url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
        ).ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise SetupError(f"{variable}: cannot reach {redacted(url)}: {_reason(exc)}") from None


def _check_amqp(url: str) -> None:
    import pika
    import pika.exceptions

    params = pika.URLParameters(url)
    try:
        # A plain connect first: its error says "refused" where pika's says little.
        socket.create_connection((params.host, params.port), CONNECT_TIMEOUT_S).close()
        params.socket_timeout = params.blocked_connection_timeout = CONNECT_TIMEOUT_S
        logging.getLogger("pika").disabled = True  # it logs each failed attempt, with tracebacks
        pika.BlockingConnection(params).close()
    except pika.exceptions.ProbableAuthenticationError:
        raise SetupError(f"BROKER_URL: {redacted(url)} refused the credentials") from None
    except (pika.exceptions.AMQPError, OSError) as exc:
        reason = _reason(exc) if str(exc).strip() else type(exc).__name__
        raise SetupError(f"BROKER_URL: cannot reach {redacted(url)}: {reason}") from None
    finally:
        logging.getLogger("pika").disabled = False


def _check_servers() -> None:
    from django.conf import settings

    _check_database()
    _check_redis("REDIS_URL", settings.REDIS_URL)
    if settings.BROKER_URL != settings.REDIS_URL:
        if urlsplit(settings.BROKER_URL).scheme in {"amqp", "amqps"}:
            _check_amqp(settings.BROKER_URL)
        else:
            _check_redis("BROKER_URL", settings.BROKER_URL)


def _check_vendor() -> None:
    """Live mode: one GET /get-credits (free) before anything starts.

    An unreachable vendor (a wrong MUSICAPI_BASE_URL, a network down) or a key it refuses (401)
    otherwise shows only as generations sitting queued while workers retry: those stop start-up.
    Any other answer starts the service with one warning line: an error of the vendor's own
    (5xx, 429) passes, an account out of credits (402/403) still serves the songs already made
    (the balance check and /readyz report it), and a vendor without this endpoint (404, another
    shape) may still create songs.
    """
    from django.conf import settings

    if settings.SANDBOX:
        return
    from workers.musicapi.errors import TransientError, VendorError
    from workers.upstream import get_upstream

    base = settings.MUSICAPI_BASE_URL
    try:
        get_upstream().client.credits()
    except VendorError as exc:
        if isinstance(exc, TransientError) and exc.status is None:  # no answer at all
            raise SetupError(
                f"MUSICAPI_BASE_URL: the vendor is unreachable at {redacted(base)} ({exc.message})"
            ) from None
        if exc.status == 401:
            raise SetupError(
                f"MUSICAPI_KEY: the vendor at {redacted(base)} refused it "
                f"(HTTP {exc.status}: {exc.message})"
            ) from None
        print(
            f"make run: warning: the vendor's balance at {redacted(base)} could not be read "
            f"(HTTP {exc.status}: {exc.message}); starting anyway",
            file=sys.stderr,
            flush=True,
        )


def demo_token(var_dir: Path) -> str:
    """The demo user's token, reused across runs while it is valid: one live token, not a pile.

    Its secret is kept in var/ (readable only by its owner, like var/secret_key); a new one is
    minted only when that is missing, revoked or expired, and then replaces every earlier one.
    """
    from django.contrib.auth import get_user_model

    from api.models import ApiToken
    from api.tokens import token_authenticate, token_create, token_revoke

    path = var_dir / "demo_token"
    secret = path.read_text().strip() if path.exists() else ""
    token = token_authenticate(secret=secret) if secret else None
    if token is not None and token.name == DEMO_TOKEN_NAME and token.user.username == "demo":
        return secret
    user, created = get_user_model().objects.get_or_create(username="demo")
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    for old in ApiToken.objects.filter(user=user, name=DEMO_TOKEN_NAME, revoked_at__isnull=True):
        token_revoke(token=old)
    issued = token_create(user=user, name=DEMO_TOKEN_NAME)
    path.write_text(issued.secret)
    path.chmod(0o600)
    return issued.secret


def _check_deploy() -> None:
    """The production profile starts only when `check --deploy` is clean (errors and warnings)."""
    from django.conf import settings
    from django.core import checks

    if settings.DEBUG:
        raise SetupError("DEBUG: the production profile runs with DEBUG=false.")
    if not settings.ALLOWED_HOSTS:
        raise SetupError(
            "ALLOWED_HOSTS: must be set when DEBUG is off (e.g. ALLOWED_HOSTS=api.example.com)."
        )
    found = [
        message
        for message in checks.run_checks(include_deployment_checks=True)
        if message.level >= checks.WARNING and not message.is_silenced()
    ]
    if found:
        raise SetupError(
            "check --deploy: " + "; ".join(f"{m.id}: {m.msg.splitlines()[0]}" for m in found)
        )


def prepare(*, prod: bool = False) -> tuple[str | None, bool]:
    """Load and check the settings, migrate, collect static files; the demo token and sandbox.

    `prod` (make run-prod): `check --deploy` must be clean, and there is no demo user (None).
    """
    _load_settings()
    from django.conf import settings
    from django.core.management import call_command

    if prod:
        _check_deploy()
    _check_servers()
    _check_vendor()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    return (None if prod else demo_token(settings.VAR_DIR)), settings.SANDBOX
