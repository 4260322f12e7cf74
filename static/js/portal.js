// Small enhancements; every page works without this file.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { window.print(); }
});
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (el) { el.hidden = false; });
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }
});
