"""Run the intake service: `python -m prokopim_intake` or `prokopim-intake`."""

from __future__ import annotations

import logging

import uvicorn
from prokopim_events.settings import load_settings

from .app import create_app
from .config import Settings


def main() -> None:
    """Read settings from the environment and serve intake over HTTP."""
    logging.basicConfig(level=logging.INFO)
    settings = load_settings(Settings)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
