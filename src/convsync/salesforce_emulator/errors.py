"""Salesforce-shaped errors raised anywhere in the emulator and rendered by the app.

One exception type carries the HTTP status, Salesforce's errorCode, message and
(for record-level DML errors) the fields list, so the store and the query engine can fail
exactly like Salesforce without knowing anything about HTTP.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error Salesforce would return as `[{"message", "errorCode", "fields"?}]`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        fields: list[str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields
        # Extra keys Salesforce puts beside errorCode for some errors (`duplicateResult`).
        self.details = details or {}

    def to_json(self) -> list[dict[str, Any]]:
        """The REST body: a list with one error object."""
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            body["fields"] = self.fields
        return [{**self.details, **body}]

    def to_collection_error(self) -> dict[str, Any]:
        """The shape inside sObject Collections results, where the key is statusCode."""
        return {
            **self.details,
            "statusCode": self.code,
            "message": self.message,
            "fields": self.fields or [],
        }

    def to_bulk_error(self) -> str:
        """The `sf__Error` column of Bulk API 2.0 failed results."""
        fields = ",".join(self.fields or [])
        if fields:
            return f"{self.code}:{self.message}:{fields} --"
        return f"{self.code}:{self.message}:--"


def not_found() -> ApiError:
    """The 404 Salesforce returns for a missing record or resource."""
    return ApiError("NOT_FOUND", "The requested resource does not exist", status=404)
