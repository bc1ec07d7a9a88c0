"""The OAuth 2.0 token endpoint: grants, response shape, failures."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import requests

from convsync.salesforce_emulator.testing import DEFAULT_LOGIN, EmulatorHandle, running_emulator


def token_call(handle: EmulatorHandle, **form: str) -> requests.Response:
    return handle.session().post(f"{handle.url}/services/oauth2/token", data=form, timeout=10)


def jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def test_password_grant_returns_the_salesforce_token_shape(org: EmulatorHandle) -> None:
    body = token_call(org, **DEFAULT_LOGIN).json()
    assert set(body) >= {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
        "refresh_token",
    }
    assert body["instance_url"] == org.url
    assert body["token_type"] == "Bearer"
    assert body["issued_at"].isdigit()


def test_client_credentials_grant_is_accepted(org: EmulatorHandle) -> None:
    response = token_call(org, grant_type="client_credentials", client_id="a", client_secret="b")
    assert response.status_code == 200
    assert "refresh_token" not in response.json()


def test_refresh_token_grant_needs_a_refresh_token_it_issued(org: EmulatorHandle) -> None:
    refresh = token_call(org, **DEFAULT_LOGIN).json()["refresh_token"]
    ok = token_call(org, grant_type="refresh_token", client_id="a", refresh_token=refresh)
    bad = token_call(org, grant_type="refresh_token", client_id="a", refresh_token="nope")
    assert ok.status_code == 200
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_grant"


def test_jwt_bearer_grant_accepts_a_well_formed_assertion(org: EmulatorHandle) -> None:
    claims = {"iss": "client", "sub": "user@example.com", "aud": "https://login", "exp": 9e9}
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    ok = token_call(org, grant_type=grant, assertion=jwt(claims))
    bad = token_call(org, grant_type=grant, assertion="not.a-jwt")
    assert ok.status_code == 200
    assert bad.json() == {"error": "invalid_grant", "error_description": "authentication failure"}


def test_empty_password_is_an_authentication_failure(org: EmulatorHandle) -> None:
    response = token_call(org, **{**DEFAULT_LOGIN, "password": ""})
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "authentication failure",
    }


def test_unknown_grant_type_is_unsupported(org: EmulatorHandle) -> None:
    response = token_call(org, grant_type="magic", client_id="a")
    assert response.status_code == 400
    assert response.json() == {
        "error": "unsupported_grant_type",
        "error_description": "grant type not supported",
    }


def test_the_token_endpoint_does_not_count_as_an_api_call(org: EmulatorHandle) -> None:
    token_call(org, **DEFAULT_LOGIN)
    assert org.admin.counters()["total"] == 0


def test_a_credentials_file_restricts_who_may_log_in(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text(
        json.dumps(
            {
                "client_id": "cid",
                "client_secret": "sec",
                "username": "u",
                "password": "pw",
                "security_token": "TOK",
            }
        )
    )
    with running_emulator(credentials_file=str(creds)) as handle:
        good = {
            "grant_type": "password",
            "client_id": "cid",
            "client_secret": "sec",
            "username": "u",
            "password": "pwTOK",
        }
        assert token_call(handle, **good).status_code == 200
        wrong = token_call(handle, **{**good, "password": "pw"})
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"
