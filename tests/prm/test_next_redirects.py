"""``next=`` never sends anyone off-site: every view that reads it answers with a
redirect to a path on the same host, whatever the value."""

from __future__ import annotations

import pathlib
import re
from urllib.parse import urlsplit

import pytest

from tests.integrations.console_world import build

HOSTILE = [
    "https://evil.example/",
    "//evil.example",
    "//evil.example/manage/leads/",
    "https:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "http://acme.localhost.evil.example/",
    "javascript:alert(1)",
]
# (path, extra POST data) of every view that reads ``next``.
VIEWS = [
    ("/manage/integrations/amocrm/do/pause/", {}),
    ("/manage/integrations/amocrm/do/retry_all/", {}),
    ("/manage/leads/bulk/", {}),
    ("/manage/rewards/bulk/", {}),
    ("/i18n/setlang/", {"language": "en"}),
]


@pytest.fixture
def world(acme, owner):  # type: ignore[no-untyped-def]
    return build(acme)


@pytest.mark.parametrize("path,data", VIEWS, ids=[v[0] for v in VIEWS])
@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_next_stays_on_site(client_for, owner, world, path, data, value):
    response = client_for(owner).post(path, {**data, "next": value})
    assert response.status_code in (302, 303), response.status_code
    target = urlsplit(response["Location"])
    assert target.scheme == "" and target.netloc == "", response["Location"]
    assert response["Location"].startswith("/") and not response["Location"].startswith("//")


def test_an_on_site_next_is_followed(client_for, owner, world):
    back = "/manage/integrations/amocrm/dead-letters/"
    response = client_for(owner).post("/manage/integrations/amocrm/do/pause/", {"next": back})
    assert response["Location"] == back
    response = client_for(owner).post("/manage/leads/bulk/", {"next": "/manage/leads/?page=2"})
    assert response["Location"] == "/manage/leads/?page=2"


def test_every_view_reads_next_through_the_helper():
    """A new view reading ``next`` by hand would escape the sweep above."""
    root = pathlib.Path(__file__).resolve().parents[2]
    readers = []
    for app in ("prm", "partners", "programs", "rewards", "antifraud", "integrations"):
        for source in (root / app).rglob("*.py"):
            if re.search(r"""(GET|POST|REQUEST)(\.get\(|\[)\s*["']next["']""", source.read_text()):
                readers.append(source.relative_to(root).as_posix())
    assert readers == ["prm/redirects.py"]
