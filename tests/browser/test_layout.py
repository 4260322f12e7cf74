"""Pages at 320 CSS px wide and at 200% zoom fit without horizontal scrolling (WCAG 1.4.10), in both
languages; with reduced motion asked for, nothing moves."""
import pytest
from playwright.sync_api import expect

PAGES = ["/", "/requests/new", "/requests/new?type=correct", "/requests/new?type=access", "/status",
         "/agent/requests/new", "/inquiries/new", "/privacy", "/preferences", "/preferences/history", "/no-such-page"]
# 200% zoom of a 1280 x 800 window is a 640 x 400 CSS px viewport at twice the pixel density.
VIEWPORTS = {"320px": ({"width": 320, "height": 640}, 1), "zoom200": ({"width": 640, "height": 400}, 2)}

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(el => {
    if (el.closest('.table-scroll')) return false;  // tables scroll inside their own focusable box
    const r = el.getBoundingClientRect();
    return r.width > 0 && (r.right > width + 1 || r.left < -1) && getComputedStyle(el).position !== 'absolute';
  }).map(el => el.tagName + (el.id ? '#' + el.id : '') + '.' + el.className);
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5)};
}"""


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("lang", ["en", "es"])
def test_no_horizontal_scrolling(browser, live_server, viewport, lang):
    size, scale = VIEWPORTS[viewport]
    context = browser.new_context(viewport=size, device_scale_factor=scale)
    page = context.new_page()
    try:
        for path in PAGES:
            page.goto(live_server.url + path + ("&" if "?" in path else "?") + f"lang={lang}")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            found = page.evaluate(OVERFLOW)
            assert found["scroll"] <= found["width"] and not found["wide"], f"{path} ({lang}, {viewport}): {found}"
    finally:
        context.close()


def test_reduced_motion_is_respected(browser, live_server):
    context = browser.new_context(reduced_motion="reduce")
    page = context.new_page()
    try:
        for path in ("/", "/requests/new", "/preferences"):
            page.goto(live_server.url + path)
            moving = page.evaluate("""() => [...document.querySelectorAll('*')].filter(el => {
                const s = getComputedStyle(el);
                const seconds = v => Math.max(...v.split(',').map(t => parseFloat(t) || 0));
                return seconds(s.transitionDuration) > 0 || (s.animationName !== 'none' && seconds(s.animationDuration) > 0)
                    || s.scrollBehavior === 'smooth';
            }).map(el => el.tagName + '.' + el.className)""")
            assert moving == [], f"{path}: {moving}"
    finally:
        context.close()
