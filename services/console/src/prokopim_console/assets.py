"""Front-end libraries, fetched from the npm registry, never committed.

HTMX comes from npm (`htmx.org`, version HTMX_VERSION) into static/vendor/ (git-ignored):
the Docker image fetches it in a build stage; a source checkout fetches it the first time
the console starts, with `npm` (or run `python -m prokopim_console.assets`). Without it the
pages still work (plain forms and links); only partial refreshes and live updates need it.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)
HTMX_VERSION = "2.0.11"
HTMX_FILE = "htmx.min.js"


def static_dir() -> Path:
    """Return the directory served under /static."""
    return Path(__file__).parent / "static"


def vendor_dir() -> Path:
    return static_dir() / "vendor"


def ensure_assets() -> bool:
    """Fetch HTMX from npm unless it is there already; return whether it is available."""
    target = vendor_dir() / HTMX_FILE
    if target.exists():
        return True
    npm = shutil.which("npm")
    if npm is None:
        log.warning("npm not found: %s missing, pages work without partial updates", target)
        return False
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(
                [
                    npm,
                    "install",
                    "--no-save",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                    tmp,
                    f"htmx.org@{HTMX_VERSION}",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        except (subprocess.SubprocessError, OSError) as error:
            log.warning("could not fetch htmx.org from npm (%s): pages work without it", error)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(tmp) / "node_modules" / "htmx.org" / "dist" / HTMX_FILE, target)
    log.info("fetched htmx.org %s from npm into %s", HTMX_VERSION, target)
    return True


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    raise SystemExit(0 if ensure_assets() else 1)
