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


class _Server(ThreadingHTTPServer):
    # The listen backlog: socketserver's 5 reset concurrent posts beyond it (a burst of
    # publications); the default of the kernel's somaxconn keeps them waiting instead.
    request_queue_size = socket.SOMAXCONN


@contextlib.contextmanager
def local_sinks(data_dir: Path) -> Iterator[dict[str, str]]:
    """Run a local website endpoint and SMTP server; yield the env that points at them."""
    posts = data_dir / "website"
    posts.mkdir(parents=True, exist_ok=True)
    # The server answers each post on its own thread: numbering by counting the files
    # already written gave two concurrent posts one number, and the second overwrote the
    # first. The number is taken under a lock, and a file is created, never replaced.
    # A repeated post with the same Idempotency-Key (publishing's retry of a post whose
    # answer it never recorded) is answered with the first post's URL and stored no more,
    # as the city website is asked to do.
    numbering = threading.Lock()
    taken = [len(list(posts.glob("*.json")))]
    keys: dict[str, int] = {}

    def number_for(key: str | None) -> tuple[int, bool]:
        with numbering:
            if key is not None and key in keys:
                return keys[key], False
            taken[0] += 1
            if key is not None:
                keys[key] = taken[0]
            return taken[0], True

    class Website(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            number, new = number_for(self.headers.get("Idempotency-Key"))
            if new:
                with (posts / f"{number:05d}.json").open("xb") as post:
                    post.write(body)
            self.send_response(201 if new else 200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"url": f"http://localhost/berita/{number}"}).encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Website)
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
