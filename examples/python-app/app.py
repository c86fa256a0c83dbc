"""A small sample app: answers GET / with its ENV1 environment variable (standard library only).

Listens on $HOST:$PORT (default 0.0.0.0:8080, as App Runner expects).
"""

from __future__ import annotations

import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = os.environ.get("ENV1", "").encode()
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body) if self.path == "/" else 0))
        self.end_headers()
        if self.path == "/":
            self.wfile.write(body)


def main() -> None:
    server = ThreadingHTTPServer(
        (os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080"))), Handler
    )
    print(f"listening on {server.server_address[0]}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
