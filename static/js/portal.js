// Small enhancements; every page works without this file.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { window.print(); }
});
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (el) { el.hidden = false; });
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }
});

// After an htmx swap: say what changed through the page's live region, and when the swap took away
// the element that had focus (a button that is replaced), move focus to the new content, or to its
// first error. When the person is still on the control that caused the swap (a radio button, the
// next field after inline validation), focus stays there: moving it would be a change of context
// on input (WCAG 3.2.2).
function announce(text) {
  var live = document.getElementById("live-announcer");
  if (!live || !text) { return; }
  live.textContent = "";
  window.setTimeout(function () { live.textContent = text.replace(/\s+/g, " ").trim(); }, 50);
}

function focusOn(element) {
  if (!element.matches("a[href], button, input, select, textarea, [tabindex]")) {
    element.setAttribute("tabindex", "-1");
  }
  element.focus();
}

document.addEventListener("htmx:afterSettle", function (event) {
  var region = event.target;
  if (!(region instanceof Element) || !region.isConnected || region === document.body) { return; }
  var error = region.matches(".error-message, .error-summary") ? region
    : region.querySelector(".error-summary, .error-message");
  var active = document.activeElement;
  var focusLost = !active || active === document.body || !active.isConnected;
  if (error) {
    announce(error.textContent);
    if (focusLost) {
      var invalid = region.querySelector("[aria-invalid='true']");
      focusOn(invalid || error);
    }
    return;
  }
  var heading = region.querySelector("h1, h2, h3, legend");
  if (region.matches("[role='status']") || region.querySelector("[role='status']")) {
    announce(region.textContent);
  } else if (heading) {
    announce(heading.textContent);
  }
  if (focusLost) { focusOn(heading || region); }
});
