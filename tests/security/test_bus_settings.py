"""How a process's NATS identity is read from its settings, and what the users may be."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from prokopim_events.bus_auth import Scope, permissions_of, subscriber_permissions
from prokopim_events.nats_connection import broker_options, nats_options
from prokopim_events.settings import BackboneSettings

pytestmark = pytest.mark.unit

CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


def test_a_user_connects_with_its_password_and_replies_on_its_own_inbox() -> None:
    settings = BackboneSettings(nats_user="review", nats_password="s3cret")
    options = nats_options(settings)
    assert options == {"inbox_prefix": "_INBOX_review", "user": "review", "password": "s3cret"}
    assert broker_options(settings)["inbox_prefix"] == "_INBOX_review"
    assert "s3cret" not in repr(settings)  # a SecretStr: never in logs or error messages


def test_tls_is_used_for_a_tls_url_or_a_given_ca() -> None:
    assert "tls" not in nats_options(BackboneSettings())
    by_url = nats_options(BackboneSettings(nats_url="tls://bus:4222"))
    assert isinstance(by_url["tls"], ssl.SSLContext)
    if CA.exists():
        by_ca = nats_options(BackboneSettings(nats_tls_ca_file=CA))
        assert isinstance(by_ca["tls"], ssl.SSLContext)


def test_a_creds_file_replaces_user_and_password(tmp_path: Path) -> None:
    creds = tmp_path / "review.creds"
    options = nats_options(BackboneSettings(nats_creds_file=creds, nats_inbox_prefix="_INBOX_r"))
    assert options == {"inbox_prefix": "_INBOX_r", "user_credentials": str(creds)}


@pytest.mark.parametrize("durable", ["prokopim-review", "prokopim-ledger", "a.b", ""])
def test_a_subscriber_is_never_granted_a_prokopim_durable(durable: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        subscriber_permissions("city-web", Scope.of(""), [durable])


def test_only_the_relay_and_the_operator_may_publish_events() -> None:
    scope = Scope.of("")
    for user in ("intake", "scheduling", "production", "review", "publishing", "ledger"):
        assert not any(s.startswith("prokopim.") for s in permissions_of(user, scope).publish)
    assert "prokopim.>" in permissions_of("relay", scope).publish
    assert not any("DELETE" in s for s in permissions_of("relay", scope).publish)
