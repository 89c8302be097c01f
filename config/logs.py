"""Log lines: one format per mode, each event once, each line with the ids it is about.

- One format: every logger (Django's, uvicorn's, gunicorn's, Dramatiq's, ours) goes to the root
  handler, never to a handler of its own. `plain` (DEBUG on) is a readable line; `json` (DEBUG
  off) is one JSON object per line (python-json-logger), for log shippers.
- Each event once: one `api.request` line per request with its method, route, status and time;
  Django's own "Not Found: /path" warnings (a second line for the same 4xx) are off, its 5xx
  errors with their traceback stay. A request with a Host header not in ALLOWED_HOSTS (a scanner,
  a misrouted proxy) is one WARNING line without a traceback: it is the client's mistake, already
  answered 400, not an error of ours (Django logs it as an ERROR with the whole stack).
- The ids: `request_id` (the client's `X-Request-ID` when it is sane, else a new one, echoed in the
  answer), `user_id` and `generation_id` (or `clip_id`, `job_id`, `file_id`) are bound in a
  context variable by the request middleware, the token authentication, the services and the
  Dramatiq middleware (workers.logcontext); every line logged while they are bound carries them.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

from asgiref.sync import iscoroutinefunction
from django.utils.decorators import sync_and_async_middleware
from django.utils.functional import SimpleLazyObject, empty

FIELDS = (
    *("request_id", "user_id", "generation_id", "clip_id", "job_id", "file_id", "delivery_id"),
    "actor",
)
_context: ContextVar[dict[str, str] | None] = ContextVar("log_context", default=None)
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
logger = logging.getLogger("api.request")


def bind(**values: object) -> None:
    """Add ids to every line logged from here on, in this request, message or task."""
    current = _context.get() or {}
    _context.set({**current, **{k: str(v) for k, v in values.items() if v is not None}})


def bound() -> dict[str, str]:
    return dict(_context.get() or {})


def clear() -> None:
    _context.set(None)


class ContextFilter(logging.Filter):
    """Puts the bound ids on each record (as attributes: JSON gets them as keys)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's copy of its message with terminal colours: not for a log line.
        record.__dict__.pop("color_message", None)
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class OneLineWarning(logging.Filter):
    """An ERROR with a traceback becomes a WARNING line with neither: for the client's mistakes
    Django logs as errors (django.security.DisallowedHost). The request object goes too (the
    JSON formatter would print its repr); the api.request line has its ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        record.__dict__.pop("request", None)
        return True


class PlainFormatter(logging.Formatter):
    """`time LEVEL logger message key=value…`: the ids after the message, a traceback below."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        ids = [f"{key}={getattr(record, key)}" for key in FIELDS if hasattr(record, key)]
        return " ".join([line, *ids])


def config(fmt: str, level: str) -> dict:
    """The dictConfig for Django's LOGGING (and gunicorn's `logconfig_dict`)."""
    to_root = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "config.logs.ContextFilter"},
            "one_line_warning": {"()": "config.logs.OneLineWarning"},
        },
        "formatters": {
            "plain": {
                "()": "config.logs.PlainFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            },
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's default config gives "django" a console handler of its own (DEBUG on):
            # every warning twice. And a 4xx is already the api.request line.
            "django": to_root,
            "django.request": {**to_root, "level": "ERROR"},
            "django.db.backends": {**to_root, "level": "INFO"},
            "django.security.DisallowedHost": {**to_root, "filters": ["one_line_warning"]},
            # uvicorn and gunicorn configure handlers and formats of their own before Django's
            # settings load; these take them back. Access lines are api.request's.
            "uvicorn": to_root,
            "uvicorn.error": to_root,
            "uvicorn.access": {"handlers": [], "propagate": False},
            "gunicorn.error": to_root,
            "gunicorn.access": {"handlers": [], "propagate": False},
            "dramatiq": to_root,
        },
    }


def _request_id(request) -> str:
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    return sent if _SANE_ID.match(sent) else uuid.uuid4().hex


def _user_id(request) -> str | None:
    # DRF puts the token's user on the request; a session user only if it was loaded anyway.
    user = request.__dict__.get("_cached_user") or request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None  # never loaded: loading it here is a query (in an async view, an error)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


def _route_ids(request) -> dict[str, str]:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return {}
    kwargs = match.kwargs
    if "generation_id" in kwargs:
        return {"generation_id": str(kwargs["generation_id"])}
    if "pk" in kwargs and (match.url_name or "").startswith("generation"):
        return {"generation_id": str(kwargs["pk"])}
    for prefix, field in (("clip", "clip_id"), ("job-file", "file_id"), ("job", "job_id")):
        if "pk" in kwargs and (match.url_name or "").startswith(prefix):
            return {field: str(kwargs["pk"])}
    return {}


def _start(request) -> float:
    clear()
    request.request_id = _request_id(request)
    bind(request_id=request.request_id)
    return time.monotonic()


def _finish(request, response, started: float) -> None:
    bind(user_id=_user_id(request), **{k: v for k, v in _route_ids(request).items()})
    response[REQUEST_ID_HEADER] = request.request_id
    match = getattr(request, "resolver_match", None)
    route = match.view_name if match is not None else "-"
    status = response.status_code
    level = logging.WARNING if status >= 500 else logging.INFO
    logger.log(
        level,
        "%s %s %s %s %.0fms",
        request.method,
        request.path,
        route,
        status,
        (time.monotonic() - started) * 1000,
        extra={"method": request.method, "path": request.path, "status": status},
    )
    clear()


@sync_and_async_middleware
def request_log(get_response):
    """Binds the request's ids for every line it logs, then logs the request itself, once."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            started = _start(request)
            response = await get_response(request)
            _finish(request, response, started)
            return response

    else:

        def middleware(request):
            started = _start(request)
            response = get_response(request)
            _finish(request, response, started)
            return response

    return middleware
