"""The emulator's responses: Salesforce-shaped JSON bodies and errors.

Every route answers through these, so a body is serialised one way (compact JSON with
Salesforce's content type) and an `ApiError` always becomes Salesforce's error list.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from .errors import ApiError

JSON_TYPE = "application/json;charset=UTF-8"


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type=JSON_TYPE)


def error_response(error: ApiError) -> Response:
    return json_response(error.to_json(), error.status)
