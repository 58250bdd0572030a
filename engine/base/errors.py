"""Domain errors. The web layer maps each to a problem-details response; none is a 500."""

from __future__ import annotations

from typing import Any

from .labels import PROBLEM_TITLES


class RutinError(Exception):
    """Base of every error a user may see; `detail` is a human sentence in Swedish."""

    status = 400
    type = "about:blank"
    title = PROBLEM_TITLES["bad-request"]

    def __init__(self, detail: str, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(RutinError):
    """The thing asked for does not exist (or the caller may not know that it does)."""

    status = 404
    type = "https://rutin.example/problems/not-found"
    title = PROBLEM_TITLES["not-found"]


class Unauthorized(RutinError):
    """No valid credentials were given."""

    status = 401
    type = "https://rutin.example/problems/unauthorized"
    title = PROBLEM_TITLES["unauthorized"]


class Forbidden(RutinError):
    """The caller is known but may not do this."""

    status = 403
    type = "https://rutin.example/problems/forbidden"
    title = PROBLEM_TITLES["forbidden"]


class Conflict(RutinError):
    """The action lost a race or the thing is not in a state that allows it."""

    status = 409
    type = "https://rutin.example/problems/conflict"
    title = PROBLEM_TITLES["conflict"]


class Busy(Conflict):
    """The case is locked by another action for longer than the lock timeout."""

    type = "https://rutin.example/problems/case-busy"
    title = PROBLEM_TITLES["case-busy"]


class InvalidInput(RutinError):
    """The request is well-formed but its content is not acceptable."""

    status = 422
    type = "https://rutin.example/problems/invalid-input"
    title = PROBLEM_TITLES["invalid-input"]


class TooManyAttempts(RutinError):
    """Too many failed attempts (signing in): refused until `extra['retry_after']` seconds pass."""

    status = 429
    type = "https://rutin.example/problems/too-many-attempts"
    title = PROBLEM_TITLES["too-many-attempts"]


class BadRequest(RutinError):
    """The request itself is malformed."""

    status = 400
    type = "https://rutin.example/problems/bad-request"
    title = PROBLEM_TITLES["bad-request"]


class DiagramInvalid(RutinError):
    """An uploaded diagram cannot be deployed; `extra['diagnostics']` says where and why."""

    status = 422
    type = "https://rutin.example/problems/invalid-bpmn"
    title = PROBLEM_TITLES["invalid-bpmn"]


class PayloadTooLarge(RutinError):
    """The request body is larger than allowed."""

    status = 413
    type = "https://rutin.example/problems/too-large"
    title = PROBLEM_TITLES["too-large"]
