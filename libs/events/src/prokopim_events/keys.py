"""The chain keys a process holds, from its environment: the current one and retired ones.

Appending processes (every service) and the sealer hold the current key; `prokopim verify`
and the ledger's continuous verification hold it and every retired key still named by a
stored event or seal (see docs/tamper-evidence.md, "Rotating the chain key").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .chain import MIN_KEY_LENGTH, ChainKey


@dataclass(frozen=True)
class Keyring:
    """The keys a verifier may check chains and seals with, by key id."""

    current: ChainKey | None = None
    retired: tuple[ChainKey, ...] = ()
    # Events and seals written before keyed chains (no key id) are accepted up to here.
    unkeyed_up_to: int = 0
    _by_id: dict[str, ChainKey] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for key in (*self.retired, *([self.current] if self.current else [])):
            self._by_id[key.key_id] = key

    @property
    def empty(self) -> bool:
        """Whether no key is held (then nothing keyed can be checked)."""
        return not self._by_id

    def get(self, key_id: str) -> ChainKey | None:
        """Return the key with this id, if held."""
        return self._by_id.get(key_id)


NO_KEYS = Keyring()


def _secrets(value: SecretStr | None) -> list[str]:
    if value is None:
        return []
    return [part.strip() for part in value.get_secret_value().split(",") if part.strip()]


class ChainKeySettings(BaseSettings):
    """PROKOPIM_CHAIN_KEY and, for verifying, the retired keys."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    prokopim_chain_key: SecretStr | None = Field(
        default=None,
        description=(
            "PROKOPIM_CHAIN_KEY: the secret (at least 32 characters) each event's chain hash"
            " and each seal are keyed with; kept outside the database. Unset: appends are"
            " chained without a key, which `prokopim verify` with a key reports"
        ),
    )
    prokopim_chain_old_keys: SecretStr | None = Field(
        default=None,
        description="PROKOPIM_CHAIN_OLD_KEYS: retired chain keys, comma-separated (verify only)",
    )
    prokopim_chain_unkeyed_up_to: int = Field(
        default=0,
        ge=0,
        description=(
            "PROKOPIM_CHAIN_UNKEYED_UP_TO: the last global position appended before chain keys"
            " were introduced; unkeyed events and seals after it are reported"
        ),
    )

    @field_validator("prokopim_chain_key")
    @classmethod
    def _key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value().strip()) < MIN_KEY_LENGTH:
            raise ValueError(f"the chain key needs at least {MIN_KEY_LENGTH} characters")
        return value

    @field_validator("prokopim_chain_old_keys")
    @classmethod
    def _old_keys_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        for secret in _secrets(value):
            if len(secret) < MIN_KEY_LENGTH:
                raise ValueError(f"each chain key needs at least {MIN_KEY_LENGTH} characters")
        return value if _secrets(value) else None

    def chain_key(self) -> ChainKey | None:
        """Return the current key (None if unset)."""
        if self.prokopim_chain_key is None:
            return None
        return ChainKey.from_secret(self.prokopim_chain_key.get_secret_value().strip())

    def keyring(self) -> Keyring:
        """Return every key held, for verifying."""
        retired = tuple(ChainKey.from_secret(s) for s in _secrets(self.prokopim_chain_old_keys))
        return Keyring(self.chain_key(), retired, self.prokopim_chain_unkeyed_up_to)
