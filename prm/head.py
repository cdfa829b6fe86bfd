"""HEAD answered like GET, without a body.

Neither Django's WSGI handler nor gunicorn drops the body of a HEAD response (only
runserver does), and the click endpoint answers ahead of CommonMiddleware, so without
this a HEAD got a body and no length. This middleware is the outermost: every answer
to HEAD keeps the GET answer's status and headers, says its length, and carries no body.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class HeadMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method != "HEAD":
            return response
        if response.streaming:
            # Not read: closing the iterator is enough, and the length is unknown.
            response.streaming_content = []
            return response
        if not response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        response.content = b""
        return response
