"""The OAuth 2.0 token endpoint: grants, response shape, failures."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
import requests

from convsync.salesforce_emulator.testing import (
    DEFAULT_LOGIN,
    CaBundleSession,
    EmulatorHandle,
    JwtKeys,
    jwt_keys,
    running_emulator,
)


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
    claims = {
        "iss": "client",
        "sub": "user@example.com",
        "aud": "https://login.salesforce.com",
        "exp": 9e9,
    }
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


# ---------------------------------------------------------------- JWT bearer, as documented

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def signed(keys: JwtKeys, **claims: Any) -> str:
    defaults = {
        "iss": "client",
        "sub": "user@example.com",
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
    }
    return pyjwt.encode({**defaults, **claims}, keys.private_key_pem, algorithm="RS256")


@pytest.mark.parametrize(
    "audience", ["https://login.salesforce.com", "https://test.salesforce.com"]
)
def test_jwt_bearer_accepts_the_login_and_test_audiences(
    org: EmulatorHandle, audience: str
) -> None:
    response = token_call(org, grant_type=JWT_GRANT, assertion=signed(jwt_keys(), aud=audience))
    assert response.status_code == 200


def test_jwt_bearer_refuses_the_login_url_it_was_posted_to_as_audience(
    org: EmulatorHandle,
) -> None:
    response = token_call(org, grant_type=JWT_GRANT, assertion=signed(jwt_keys(), aud=org.url))
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "audience is invalid"}


def test_jwt_bearer_refuses_an_expired_assertion(org: EmulatorHandle) -> None:
    expired = signed(jwt_keys(), exp=int(time.time()) - 60)
    response = token_call(org, grant_type=JWT_GRANT, assertion=expired)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "expired authorization code",
    }


def test_jwt_bearer_with_a_certificate_accepts_only_assertions_signed_for_it(
    org: EmulatorHandle,
) -> None:
    keys, stranger = jwt_keys(), jwt_keys()
    org.admin.oauth(jwt_certificate=keys.certificate_pem)
    good = token_call(org, grant_type=JWT_GRANT, assertion=signed(keys))
    forged = token_call(org, grant_type=JWT_GRANT, assertion=signed(stranger))
    assert good.status_code == 200
    assert forged.status_code == 400
    assert forged.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}


def test_the_jwt_certificate_can_be_given_at_start(tmp_path: Path) -> None:
    keys, stranger = jwt_keys(), jwt_keys()
    certificate = tmp_path / "server.crt"
    certificate.write_text(keys.certificate_pem)
    with running_emulator(jwt_certificate_file=str(certificate)) as handle:
        handle.admin.reset()  # a reset keeps the certificate the emulator started with
        assert token_call(handle, grant_type=JWT_GRANT, assertion=signed(keys)).status_code == 200
        forged = token_call(handle, grant_type=JWT_GRANT, assertion=signed(stranger))
        assert forged.status_code == 400


# ---------------------------------------------------------------- refresh-token rotation


def refresh(handle: EmulatorHandle, token: str) -> requests.Response:
    return token_call(handle, grant_type="refresh_token", client_id="a", refresh_token=token)


def test_refresh_tokens_are_not_rotated_by_default(org: EmulatorHandle) -> None:
    token = token_call(org, **DEFAULT_LOGIN).json()["refresh_token"]
    first, second = refresh(org, token), refresh(org, token)
    assert first.status_code == second.status_code == 200
    assert "refresh_token" not in first.json()


def test_with_rotation_each_refresh_returns_a_new_token_and_voids_the_old(
    org: EmulatorHandle,
) -> None:
    org.admin.oauth(rotate_refresh_tokens=True)
    old = token_call(org, **DEFAULT_LOGIN).json()["refresh_token"]
    rotated = refresh(org, old)
    new = rotated.json()["refresh_token"]
    assert rotated.status_code == 200
    assert new != old
    voided = refresh(org, old)
    assert voided.status_code == 400
    assert voided.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }
    assert refresh(org, new).status_code == 200


def test_the_oauth_settings_report_token_requests_and_end_with_a_reset(
    org: EmulatorHandle,
) -> None:
    org.admin.oauth(rotate_refresh_tokens=True)
    token = token_call(org, **DEFAULT_LOGIN).json()["refresh_token"]
    refresh(org, token)
    refresh(org, token)
    state = org.admin.oauth()
    assert state["token_requests"]["refresh_token:ok"] == 1
    assert state["token_requests"]["refresh_token:refused"] == 1
    org.admin.reset()
    assert org.admin.oauth()["rotate_refresh_tokens"] is False


def test_the_emulator_command_takes_the_jwt_certificate(tmp_path: Path) -> None:
    keys, stranger = jwt_keys(), jwt_keys()
    certificate = tmp_path / "server.crt"
    certificate.write_text(keys.certificate_pem)
    info = tmp_path / "emulator.json"
    args = ["--port", "0", "--info-file", str(info), "--jwt-certificate", str(certificate)]
    process = subprocess.Popen(
        [sys.executable, "-m", "convsync.cli", "emulator", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not info.is_file() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        started = json.loads(info.read_text())
        session = CaBundleSession(started["ca_file"])
        url = f"{started['url']}/services/oauth2/token"

        def login(assertion: str) -> int:
            form = {"grant_type": JWT_GRANT, "assertion": assertion}
            return session.post(url, data=form, timeout=10).status_code

        assert (login(signed(keys)), login(signed(stranger))) == (200, 400)
    finally:
        process.terminate()
        process.wait(timeout=15)
