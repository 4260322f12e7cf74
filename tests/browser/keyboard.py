"""Keyboard-only helpers: the expected tab order, walking it with Tab, and checking focus is visible."""

# Every control a Tab press can reach, in document order; a radio group counts once (its checked
# radio, or its first). Each gets data-kbd = its position, so the walk can name what has focus.
MARK_TABBABLE = """() => {
  const selector = 'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), '
    + 'select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
  const groups = new Set();
  const order = [];
  for (const el of document.querySelectorAll(selector)) {
    const style = getComputedStyle(el);
    if (el.closest('[hidden]') || style.visibility === 'hidden' || el.getClientRects().length === 0) continue;
    if (el.type === 'radio') {
      if (groups.has(el.name)) continue;
      groups.add(el.name);
      const group = [...document.querySelectorAll(`input[type=radio][name="${el.name}"]`)];
      order.push(group.find(r => r.checked) || el);
      continue;
    }
    order.push(el);
  }
  document.querySelectorAll('[data-kbd]').forEach(el => el.removeAttribute('data-kbd'));
  order.forEach((el, i) => { el.dataset.kbd = String(i); });
  return order.length;
}"""

# What has focus now, and whether a sighted keyboard user can see it (an outline or a ring).
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  const rect = el.getBoundingClientRect();
  return {kbd: el.dataset.kbd ?? null, id: el.id, tag: el.tagName, type: el.type || '', text: (el.innerText || el.value || '').trim().slice(0, 60),
          visible: outline || s.boxShadow !== 'none', onScreen: rect.bottom > 0 && rect.top < innerHeight && rect.width > 0};
}"""


def assert_tab_order(page) -> int:
    """Tab from the top of the page through every control: each is reached once, in document order,
    with a visible focus indicator, scrolled into view. Returns how many controls there are."""
    page.wait_for_load_state("load")  # portal.js shows its controls (print) at DOMContentLoaded
    count = page.evaluate(MARK_TABBABLE)
    assert count > 0
    # Start from the top, as after loading the page: focus a marker placed before everything.
    page.evaluate("""() => { const start = document.createElement('span'); start.id = 'kbd-start';
        start.tabIndex = -1; document.body.prepend(start); start.focus(); window.scrollTo(0, 0); }""")
    page.keyboard.press("Tab")
    page.evaluate("() => document.getElementById('kbd-start').remove()")
    for position in range(count):
        focused = page.evaluate(FOCUSED)
        for _ in range(3):  # a date input takes one Tab per part (month, day, year)
            if not (focused and position and focused["kbd"] == str(position - 1) and focused["type"] == "date"):
                break
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED)
        assert focused is not None, f"focus left the page after {position} controls on {page.url}"
        assert focused["kbd"] == str(position), f"Tab order on {page.url}: expected control {position}, got {focused}"
        assert focused["visible"], f"no visible focus on {focused} ({page.url})"
        assert focused["onScreen"], f"focused control not scrolled into view: {focused} ({page.url})"
        page.keyboard.press("Tab")
    return count


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab (only) until the element matching selector has focus."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def focused_matches(page, selector: str) -> bool:
    return page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector)
