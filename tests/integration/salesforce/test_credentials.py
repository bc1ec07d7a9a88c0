"""Choosing the login flow from settings, and keeping secrets out of reprs (no emulator)."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.support.services import without_convsync_environment

from convsync.config import Settings
from convsync.domain.errors import ConfigurationError
from convsync.salesforce.auth import Flow, Token, credentials_from, jwt_assertion, jwt_audience

SECRET = "pa55-W0RD-very-secret"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    without_convsync_environment(monkeypatch)


def _settings(**values: object) -> Settings:
    return Settings(salesforce_login_url="https://login.example.test", **values)  # type: ignore[arg-type]


def test_no_credentials_is_a_configuration_error_naming_the_variables() -> None:
    with pytest.raises(ConfigurationError, match="CONVSYNC_SALESFORCE_USERNAME"):
        credentials_from(_settings())


def test_password_without_client_id_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="CONVSYNC_SALESFORCE_CLIENT_ID"):
        credentials_from(_settings(salesforce_username="u@x.io", salesforce_password=SECRET))


def test_password_flow_appends_the_security_token() -> None:
    credentials = credentials_from(
        _settings(
            salesforce_username="u@x.io",
            salesforce_password=SECRET,
            salesforce_security_token="TOKEN123",
            salesforce_client_id="cid",
        )
    )
    assert credentials.flow is Flow.PASSWORD
    assert credentials.password == SECRET + "TOKEN123"


def test_client_id_and_secret_alone_mean_client_credentials() -> None:
    credentials = credentials_from(
        _settings(salesforce_client_id="cid", salesforce_client_secret=SECRET)
    )
    assert credentials.flow is Flow.CLIENT_CREDENTIALS


def test_session_id_with_login_credentials_can_renew_itself() -> None:
    credentials = credentials_from(
        _settings(
            salesforce_instance_url="https://org.example.test",
            salesforce_session_id=SECRET,
            salesforce_client_id="cid",
            salesforce_client_secret="another-secret",
        )
    )
    assert credentials.flow is Flow.SESSION
    assert credentials.relogin is not None
    assert credentials.relogin.flow is Flow.CLIENT_CREDENTIALS


def test_credentials_and_tokens_never_show_secrets_in_repr() -> None:
    credentials = credentials_from(
        _settings(
            salesforce_username="u@x.io",
            salesforce_password=SECRET,
            salesforce_client_id="cid",
            salesforce_client_secret=SECRET,
        )
    )
    assert SECRET not in repr(credentials)
    assert SECRET not in repr(Token("https://org.example.test", SECRET))


def test_jwt_assertion_is_rs256_signed_for_salesforce_not_the_login_url(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    credentials = credentials_from(
        _settings(
            salesforce_username="u@x.io",
            salesforce_client_id="cid",
            salesforce_private_key_file=key_file,
        )
    )
    claims = jwt.decode(
        jwt_assertion(credentials),
        key.public_key(),
        algorithms=["RS256"],
        audience="https://login.salesforce.com",
    )
    assert (claims["iss"], claims["sub"]) == ("cid", "u@x.io")


@pytest.mark.parametrize(
    ("login_url", "audience"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
        ("https://127.0.0.1:8443", "https://login.salesforce.com"),
        ("https://test.salesforce.com", "https://test.salesforce.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
        ("https://acme--uat.my.salesforce.com", "https://test.salesforce.com"),
    ],
)
def test_jwt_audience_is_the_test_url_for_sandboxes_and_the_login_url_otherwise(
    login_url: str, audience: str
) -> None:
    assert jwt_audience(login_url) == audience


def test_the_jwt_audience_can_be_set(tmp_path: Path) -> None:
    key_file = tmp_path / "server.key"
    key_file.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    credentials = credentials_from(
        _settings(
            salesforce_username="u@x.io",
            salesforce_client_id="cid",
            salesforce_private_key_file=key_file,
            salesforce_jwt_audience="https://test.salesforce.com",
        )
    )
    claims = jwt.decode(jwt_assertion(credentials), options={"verify_signature": False})
    assert claims["aud"] == "https://test.salesforce.com"
