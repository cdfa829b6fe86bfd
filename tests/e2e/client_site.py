"""A client website on its own host and port (``client.localhost:PORT``), apart from
the platform, serving pages that embed the tenant's snippet under a strict CSP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CLIENT_JS = (Path(__file__).parent / "client_site" / "client.js").read_bytes()

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<script async src="{snippet}"></script>
<script defer src="/client.js"></script></head>
<body><h1>{title}</h1>
<nav><a id="home" href="/">Home</a> <a id="pricing" href="/pricing">Pricing</a></nav>
<form id="signup">
  <input name="name" value="New Customer"> <input name="email" type="email">
  <input type="hidden" name="prm_ref"> <input type="hidden" name="prm_visitor">
  <button type="submit">Sign up</button>
</form>
<p id="result"></p>
</body></html>
"""

# The recruitment widget, inline and as a popup (in Russian), on the client's own page.
PARTNERS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Partners</title>
<script async src="{snippet}"></script></head>
<body><h1>Partners</h1>
<div id="recruit" data-prm-recruit></div>
<button id="become" data-prm-recruit="popup" data-prm-lang="ru">Become a partner</button>
</body></html>
"""


@contextmanager
def client_site(snippet_url: str, tenant_origin: str) -> Iterator[str]:
    """Serve the site; yields its base URL (``http://client.localhost:PORT``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.startswith("/client.js"):
                body, kind = CLIENT_JS, "application/javascript"
            elif self.path.startswith("/partners"):
                body, kind = PARTNERS_PAGE.format(snippet=snippet_url).encode(), "text/html"
            else:
                title = "Pricing" if self.path.startswith("/pricing") else "Client home"
                body, kind = PAGE.format(title=title, snippet=snippet_url).encode(), "text/html"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            # A strict CSP that allows only the tenant host, as README tells site owners.
            self.send_header(
                "Content-Security-Policy",
                f"default-src 'self'; script-src 'self' {tenant_origin}; "
                f"connect-src 'self' {tenant_origin}",
            )
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://client.localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
