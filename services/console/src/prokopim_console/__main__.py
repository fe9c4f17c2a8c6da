"""Run the console: `prokopim-console` or `python -m prokopim_console`."""

from __future__ import annotations

from prokopim_kit.runtime import serve

from .app import create_app
from .config import Settings


def main() -> None:
    """Serve the console on HOST:PORT (default 127.0.0.1:8007), settings from the environment."""
    serve(create_app, Settings)


if __name__ == "__main__":
    main()
