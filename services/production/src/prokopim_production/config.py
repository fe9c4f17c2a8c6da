"""Production's settings: the shared service settings plus where to listen."""

from __future__ import annotations

from prokopim_kit.runtime import ServiceSettings


class Settings(ServiceSettings):
    """Environment of a production process (HOST, PORT besides the shared ones)."""

    host: str = "127.0.0.1"
    port: int = 8003
