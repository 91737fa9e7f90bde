"""The Threadline error tree.

Every error Threadline raises on purpose derives from :class:`ThreadlineError` and carries an HTTP
status and a stable machine-readable ``code``, so the CLI and the API report it the same way::

    ThreadlineError
    ├── InvalidInput            400  bad identifiers, arguments, documents
    │   ├── DocumentError       400  an EPCIS document fault, located by file/event/pointer
    │   └── QueryParameterError 400  a bad EPCIS query parameter (QueryParameterException)
    ├── QueryTooLarge           413  more events match than maxEventCount allows
    ├── CaptureLimitExceeded    413  a capture beyond the advertised event or byte limits
    ├── Unauthenticated         401  no credentials, or credentials that are not valid
    ├── Forbidden               403  valid credentials whose role is too low
    ├── NotFound                404  an identifier or event the store does not know
    ├── Conflict                409  a write that contradicts stored state
    ├── TooManyRequests         429  repeated failed logins: wait ``retry_after`` seconds
    └── StoreError              500  the storage backend failed or is misconfigured
        └── StoreUnavailable    503  a configured database cannot be reached
"""

from __future__ import annotations


class ThreadlineError(Exception):
    """Base of every error Threadline raises deliberately."""

    status: int = 500
    code: str = "threadline_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        """The error in the one JSON shape shared by CLI (`--json`) and API."""
        return {"ok": False, "status": self.status, "code": self.code, "error": self.message}


class InvalidInput(ThreadlineError):
    """The caller supplied something Threadline cannot accept."""

    status = 400
    code = "invalid_input"


class DocumentError(InvalidInput):
    """A fault inside an EPCIS document, located as precisely as the format allows.

    ``source`` names the file (or request), ``index`` the event's position in the event list and
    ``pointer`` the JSON pointer of the faulty value within the document.
    """

    code = "invalid_document"

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        index: int | None = None,
        pointer: str | None = None,
    ) -> None:
        self.reason = message
        self.source = source
        self.index = index
        self.pointer = pointer
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.index is not None:
            where.append(f"event {self.index}")
        if self.pointer is not None:
            where.append(f"at {self.pointer or '/'}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def located(self, *, source: str | None = None) -> DocumentError:
        """The same fault with the source (file name) filled in."""
        return DocumentError(
            self.reason,
            source=source if source is not None else self.source,
            index=self.index,
            pointer=self.pointer,
        )

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        data.update(
            {
                "source": self.source,
                "index": self.index,
                "pointer": self.pointer,
                "reason": self.reason,
            }
        )
        return data


class QueryParameterError(InvalidInput):
    """An EPCIS query parameter is unknown, unsupported or has a bad value.

    ``parameter`` names the offending query parameter (the EPCIS ``QueryParameterException``).
    """

    code = "QueryParameterException"

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}" if parameter else message)

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        data["parameter"] = self.parameter
        return data


class QueryTooLarge(ThreadlineError):
    """A query matches more events than its ``maxEventCount`` (EPCIS ``QueryTooLargeException``)."""

    status = 413
    code = "QueryTooLargeException"


class CaptureLimitExceeded(ThreadlineError):
    """A capture larger than the service's advertised limits (events or bytes)."""

    status = 413
    code = "CaptureLimitExceededException"


class Unauthenticated(ThreadlineError):
    """No credentials were given, or they are not (or no longer) valid."""

    status = 401
    code = "unauthenticated"


class Forbidden(ThreadlineError):
    """The credentials are valid but their role does not allow the request."""

    status = 403
    code = "forbidden"


class NotFound(ThreadlineError):
    """The store holds nothing under the identifier asked for."""

    status = 404
    code = "not_found"


class Conflict(ThreadlineError):
    """A write contradicts what the store already holds."""

    status = 409
    code = "conflict"


class TooManyRequests(ThreadlineError):
    """Too many failed attempts; the caller must wait ``retry_after`` seconds."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        data["retry_after"] = self.retry_after
        return data


class StoreError(ThreadlineError):
    """The storage backend failed or is misconfigured."""

    status = 500
    code = "store_error"


class StoreUnavailable(StoreError):
    """A configured database cannot be reached."""

    status = 503
    code = "store_unavailable"
