"""Local stand-ins for the city website and the mail server, for `prokopim up` demos.

Used only when WEBSITE_URL / SMTP_HOST are not configured: posts and mails land as files
under the data directory, so a demo publication can be inspected.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


@contextlib.contextmanager
def local_sinks(data_dir: Path) -> Iterator[dict[str, str]]:
    """Run a local website endpoint and SMTP server; yield the env that points at them."""
    posts = data_dir / "website"
    posts.mkdir(parents=True, exist_ok=True)
    # The server answers each post on its own thread: numbering by counting the files
    # already written gave two concurrent posts one number, and the second overwrote the
    # first. The number is taken under a lock, and a file is created, never replaced.
    numbering = threading.Lock()
    taken = [len(list(posts.glob("*.json")))]

    def next_number() -> int:
        with numbering:
            taken[0] += 1
            return taken[0]

    class Website(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            number = next_number()
            with (posts / f"{number:05d}.json").open("xb") as post:
                post.write(body)
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"url": f"http://localhost/berita/{number}"}).encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Website)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as probe:  # aiosmtpd needs a concrete port
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(Mailbox(data_dir / "mail"), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        yield {
            "WEBSITE_URL": f"http://127.0.0.1:{server.server_address[1]}/news",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
        }
    finally:
        smtp.stop()
        server.shutdown()
