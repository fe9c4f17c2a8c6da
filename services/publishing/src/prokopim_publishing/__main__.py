"""Run the publishing service: `python -m prokopim_publishing` (PORT, HOST from the env)."""

from __future__ import annotations

import os

import uvicorn
from prokopim_events.settings import load_settings

from .app import create_app
from .config import Settings

DEFAULT_PORT = 8005


def main() -> None:
    """Read settings from the environment and serve the app."""
    settings = load_settings(Settings)
    uvicorn.run(
        create_app(settings),
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", str(DEFAULT_PORT))),
    )


if __name__ == "__main__":
    main()
