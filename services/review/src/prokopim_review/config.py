"""Settings of the review process, read from the environment."""

from __future__ import annotations

from prokopim_kit.runtime import ServiceSettings


class Settings(ServiceSettings):
    """Backbone and auth settings, plus where to listen (HOST, PORT)."""

    host: str = "127.0.0.1"
    port: int = 8004
