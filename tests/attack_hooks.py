"""schemathesis hooks for `make attack` (tests/attack.py sets SCHEMATHESIS_HOOKS to this module).

- The run's own token cannot revoke itself: a case that would `DELETE /tokens/{its id}` is never
  generated, so the rest of the run still speaks for a live user. Tokens the run creates itself
  (`POST /tokens`, then `DELETE /tokens/{id}`) are revoked as any client would.
- A token's `expires_at` must be in the future (the schema says so in words; JSON Schema cannot
  compare with now): a positive case asking for a past expiry is not a valid request, so it is
  not generated as one. Negative cases keep every value, and the past one is a 400 problem
  (tests/security/test_conformance.py).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import schemathesis

OWN_TOKEN_ID = os.environ.get("ATTACK_TOKEN_ID", "").lower()


def _operation_id(context) -> str:
    operation = context.operation
    return "" if operation is None else operation.definition.raw.get("operationId", "")


def _positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


def expiry_in_the_past(body) -> bool:
    """Whether a `POST /tokens` body asks for an `expires_at` that is already over."""
    value = body.get("expires_at") if isinstance(body, dict) else None
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment <= datetime.now(UTC)


@schemathesis.hook
def filter_case(context, case) -> bool:
    operation_id = _operation_id(context)
    if operation_id == "revokeToken":
        return str((case.path_parameters or {}).get("id", "")).lower() != OWN_TOKEN_ID
    if operation_id == "createToken" and _positive(case):
        return not expiry_in_the_past(case.body)
    return True
