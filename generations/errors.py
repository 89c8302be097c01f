"""Domain errors the API layer translates into problem details."""


class DomainError(Exception):
    """Base class: `code` names the problem, the message is safe to show a client."""

    code = "domain_error"


class NotCancelable(DomainError):
    code = "not_cancelable"
