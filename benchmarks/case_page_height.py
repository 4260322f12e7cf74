"""How tall the console's case page is for a typical case, in Chromium 1280 px wide
(`document.body.scrollHeight`, in CSS pixels). Prints the figure; asserts nothing.

    .venv/bin/python benchmarks/case_page_height.py [--screenshot FILE.png]

The typical case: a deletion received 20 days ago, verified by the identity index, in progress; the
requester answered a request for information with a message and a document; a staff note; one
recipient of deletions told by hand and waiting to be recorded. Measured on this case: 5,875 px with every action form
open one under the other (issue 36 saw about 5,000 px on its own case), 3,002 px with the summary
at the top and the actions folded; tests/browser/test_case_page.py holds the bound (3,600 px).
"""
import argparse
import sys
import tempfile
import threading
from pathlib import Path

from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app, db  # noqa: E402
from tests.support import STAFF_PASSWORD, free_port, make_staff  # noqa: E402
from tests.typical_case import typical_case  # noqa: E402

WIDTH = 1280


def measure(page, base_url: str, reference: str, email: str) -> int:
    """Sign in through the real page, open the case, and read its height."""
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.goto(base_url + "/staff/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/**")
    page.goto(f"{base_url}/staff/requests/{reference}")
    return int(page.evaluate("document.body.scrollHeight"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", help="also save a full-page screenshot here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM
    with tempfile.TemporaryDirectory(prefix="case-height-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        db.upgrade(f"sqlite:///{tmp}/portal.db")
        app = create_app({"INSTANCE_PATH": tmp, "DATABASE_URL": f"sqlite:///{tmp}/portal.db", "BASE_URL": url,
                          "MAIL_BACKGROUND_DELIVERY": False, "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8192,
                          "ARGON2_PARALLELISM": 1})
        staff = make_staff(app, "support", "height@billgenix.example")
        reference = typical_case(app, staff)
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page()
                height = measure(page, url, reference, staff.email)
                if args.screenshot:
                    page.screenshot(path=args.screenshot, full_page=True)
                browser.close()
        finally:
            server.shutdown()
            app.extensions["db_engine"].dispose()
    print(f"case page height, typical deletion in progress, {WIDTH} px wide: {height} px")


if __name__ == "__main__":
    main()
