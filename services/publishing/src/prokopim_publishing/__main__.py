"""Run the publishing service: `prokopim-publishing` or `python -m prokopim_publishing`."""

from __future__ import annotations

from prokopim_kit.runtime import serve

from .app import create_app
from .config import Settings


def main() -> None:
    """Serve publishing on HOST:PORT (default 127.0.0.1:8005), settings from the environment."""
    serve(create_app, Settings)


if __name__ == "__main__":
    main()
