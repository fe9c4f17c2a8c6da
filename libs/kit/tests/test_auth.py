"""Bearer tokens: HS256 with a shared secret, or RS256 against an identity provider's key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prokopim_kit.auth import AuthSettings, issue_token, verify_token
from prokopim_kit.errors import Unauthenticated

pytestmark = pytest.mark.unit


def key_pair() -> tuple[str, str]:
    """A fresh RSA key pair as PEM text: (private, public)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_an_rs256_token_signed_by_the_identity_provider_is_accepted() -> None:
    private, public = key_pair()
    settings = AuthSettings(jwt_public_key=public)
    token = issue_token(private, subject="u-7", role="ka-bagian", algorithm="RS256")
    actor = verify_token(settings, token)
    assert (actor.id, actor.role) == ("u-7", "ka-bagian")


def test_an_rs256_token_signed_by_another_key_is_refused() -> None:
    _, public = key_pair()
    other_private, _ = key_pair()
    settings = AuthSettings(jwt_public_key=public)
    token = issue_token(other_private, subject="u-7", role="ka-bagian", algorithm="RS256")
    with pytest.raises(Unauthenticated, match="invalid bearer token"):
        verify_token(settings, token)


def test_an_hs256_token_is_refused_where_rs256_is_configured() -> None:
    """No algorithm confusion: a token signed with the public key as an HMAC secret fails."""
    _, public = key_pair()
    settings = AuthSettings(jwt_public_key=public)
    forged = issue_token("a-shared-secret-of-sufficient-length-42", subject="x", role="ka-bagian")
    with pytest.raises(Unauthenticated):
        verify_token(settings, forged)
