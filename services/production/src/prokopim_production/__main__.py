"""Run the production service: `prokopim-production` or `python -m prokopim_production`."""

from __future__ import annotations

import uvicorn
from prokopim_events.settings import load_settings

from .app import create_app
from .config import Settings


def main() -> None:
    """Read settings from the environment and serve on HOST:PORT (default 127.0.0.1:8003)."""
    settings = load_settings(Settings)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
