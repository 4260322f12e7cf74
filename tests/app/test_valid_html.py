"""Every page is valid HTML: the Nu HTML Checker reads every public and console page, in one run."""
import re

import pytest

from ..nu_checker import errors_in
from ..pages import console_pages, public_pages


@pytest.mark.checkers
def test_every_page_is_valid_html(app, tmp_path):
    pages = {f"en {name}": html for name, html in public_pages(app, app.test_client(), "en").items()}
    pages.update({f"es {name}": html for name, html in public_pages(app, app.test_client(), "es").items()})
    pages.update({f"console {name}": html for name, html in console_pages(app, app.test_client()).items()})
    assert len(pages) > 60
    errors = errors_in(pages, tmp_path / "pages")
    assert not errors, "\n".join(f"{page}:\n  " + "\n  ".join(found) for page, found in errors.items())


def test_every_public_page_has_a_description(app):
    for name, html in public_pages(app, app.test_client()).items():
        match = re.search(r'<meta name="description" content="([^"]{50,})">', html)
        assert match, f"{name} has no meta description"
