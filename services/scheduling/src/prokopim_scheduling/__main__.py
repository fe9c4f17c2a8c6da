"""Run the scheduling service: `prokopim-scheduling` or `python -m prokopim_scheduling`."""

from __future__ import annotations

from prokopim_kit.runtime import serve

from .app import create_app
from .config import Settings


def main() -> None:
    """Serve scheduling on HOST:PORT (default 127.0.0.1:8002), settings from the environment."""
    serve(create_app, Settings)


if __name__ == "__main__":
    main()
