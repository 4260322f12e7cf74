"""axe-core (shipped inside axe-playwright-python) run on the page as it stands."""
from axe_playwright_python.sync_playwright import Axe

_axe = Axe()


def assert_no_axe_violations(page) -> None:
    results = _axe.run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]})
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"
