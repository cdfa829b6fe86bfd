"""English and Russian ship complete: the catalogue has no gaps and is compiled."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "ru" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

needs_gettext = pytest.mark.skipif(not shutil.which("msgattrib"), reason="gettext not installed")


@needs_gettext
@pytest.mark.parametrize("flag", ["--untranslated", "--only-fuzzy"])
def test_the_russian_catalogue_has_no_untranslated_or_fuzzy_entries(flag):
    out = subprocess.run(
        ["msgattrib", flag, "--no-obsolete", str(PO)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "", out[:2000]


@needs_gettext
def test_the_compiled_catalogue_matches_the_source(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(PO)], check=True)
    assert MO.read_bytes() == fresh.read_bytes(), "run `make messages` and commit django.mo"


def test_pages_speak_russian_when_asked(db, client):
    client.cookies["django_language"] = "ru"
    response = client.get("/", HTTP_HOST="localhost")
    assert 'lang="ru"' in response.content.decode()
    with translation.override("ru"):
        assert translation.gettext("Create your workspace") != "Create your workspace"
