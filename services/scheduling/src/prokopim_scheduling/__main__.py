"""Run the scheduling service: `prokopim-scheduling` (PORT, default 8002; HOST, 127.0.0.1)."""

from __future__ import annotations

import logging
import os

import uvicorn
from prokopim_events.settings import load_settings
from prokopim_kit.runtime import ServiceSettings

from .app import create_app

DEFAULT_PORT = 8002


def main() -> None:
    """Read settings from the environment and serve the app."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    settings = load_settings(ServiceSettings)
    uvicorn.run(
        create_app(settings),
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", str(DEFAULT_PORT))),
    )


if __name__ == "__main__":
    main()
