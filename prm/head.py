"""HEAD answered like GET, without a body.

Neither Django's WSGI handler nor gunicorn drops the body of a HEAD response (only
runserver does), and the click endpoint answers ahead of CommonMiddleware, so without
this a HEAD got a body and no length (and views that allow only GET refused it). This
middleware is the outermost: a HEAD is served as a GET, and the answer keeps the GET
answer's status and headers, says its length, and carries no body.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class HeadMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "HEAD":
            return self.get_response(request)
        # Views see a GET (function views often allow only GET and POST), so the answer
        # is the GET answer; then its body is dropped.
        request.method = "GET"
        try:
            response = self.get_response(request)
        finally:
            request.method = "HEAD"
        if response.streaming:
            # Not read: closing the iterator is enough, and the length is unknown.
            response.streaming_content = []
            return response
        if not response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        response.content = b""
        return response
