/*
 * Privacy Portal consent script for the business's own website.
 *
 *   <script src="https://PORTAL/static/js/consent-banner.js" defer></script>
 *
 * The portal is the script's own origin (or the data-portal attribute's value). The site's origin
 * must be listed in the portal's CONSENT_ALLOWED_ORIGINS. The script reads the visitor's choices from
 * GET /api/consent, shows a banner when there is no choice for the current policy version (reject and
 * accept each take one click), and records a choice with POST /api/consent and the token from GET.
 * No inline script is needed on either side. The site reads the choices with
 *
 *   window.PortalConsent.ready.then(function (state) { if (state.choices.analytics) { ... } });
 *   document.addEventListener("portal-consent", function (event) { event.detail.choices ... });
 *
 * The banner is plain HTML (section.portal-consent-banner) for the site to style. Its texts come from
 * the portal in the page's language: the script's data-lang attribute, else the page's <html lang>,
 * else the visitor's browser languages (the portal speaks English and Spanish).
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-portal]");
  var portal = (script && (script.getAttribute("data-portal") || new URL(script.src, document.baseURI).origin)) || "";
  var lang = ((script && script.getAttribute("data-lang")) || document.documentElement.lang || "").slice(0, 2).toLowerCase();
  var api = portal.replace(/\/$/, "") + "/api/consent" + (/^[a-z]{2}$/.test(lang) ? "?lang=" + lang : "");
  var state = null;
  var listeners = [];

  function call(method, body) {
    var options = { method: method, credentials: "include", headers: { "Accept": "application/json" } };
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-Consent-Token"] = state && state.token;
      options.body = JSON.stringify(body);
    }
    return fetch(api, options).then(function (response) {
      if (!response.ok) { throw new Error("consent API answered " + response.status); }
      return response.json();
    });
  }

  function publish(next) {
    state = next;
    listeners.forEach(function (listener) { listener(next); });
    document.dispatchEvent(new CustomEvent("portal-consent", { detail: next }));
    return next;
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function showBanner(current) {
    var t = current.banner;
    var box = element("section", { "class": "portal-consent-banner", "aria-labelledby": "portal-consent-title" });
    box.appendChild(element("h2", { id: "portal-consent-title" }, t.title));
    if (current.gpc.honored) {
      var notice = element("p", { "class": "portal-consent-gpc" });
      notice.appendChild(element("strong", {}, t.gpc_honored));
      box.appendChild(notice);
      box.appendChild(element("p", {}, t.gpc_detail));
    }
    box.appendChild(element("p", {}, t.intro));
    if (t.notice) {  // the notice at collection: what is recorded, why, how long, and the policy
      var collection = element("p", { "class": "portal-consent-notice" }, t.notice + " ");
      collection.appendChild(element("a", { href: t.links.policy }, t.policy));
      box.appendChild(collection);
    }
    var actions = element("div", { "class": "portal-consent-actions" });
    var reject = element("button", { type: "button", "data-action": "reject_all" }, t.reject);
    var accept = element("button", { type: "button", "data-action": "accept_all" }, t.accept);
    var more = element("a", { href: t.links.preferences }, t.customize);
    actions.appendChild(reject);
    actions.appendChild(accept);
    actions.appendChild(more);
    box.appendChild(actions);
    var optOut = element("p", {});
    optOut.appendChild(element("a", { href: t.links.opt_out }, t.opt_out));
    box.appendChild(optOut);
    var status = element("p", { role: "status", "class": "portal-consent-status" });
    box.appendChild(status);

    function choose(event) {
      reject.disabled = accept.disabled = true;
      call("POST", { action: event.currentTarget.getAttribute("data-action") }).then(function (next) {
        actions.remove();
        status.textContent = t.saved;
        publish(next);
      }).catch(function () {
        reject.disabled = accept.disabled = false;
        status.textContent = t.error;
      });
    }
    reject.addEventListener("click", choose);
    accept.addEventListener("click", choose);
    document.body.appendChild(box);
  }

  // §7025(c)(6): whether the Global Privacy Control signal was honored, shown whenever the signal is
  // present, not only while the banner is open.
  function showGpcStatus(notice) {
    var box = element("section", { "class": "portal-consent-gpc-status", role: "status" });
    var title = element("p", { "class": "portal-consent-gpc" });
    title.appendChild(element("strong", {}, notice.title));
    box.appendChild(title);
    box.appendChild(element("p", {}, notice.detail));
    document.body.appendChild(box);
  }

  var ready = call("GET").then(function (current) {
    publish(current);
    if (!current.decided) { showBanner(current); }
    else if (current.gpc && current.gpc.notice) { showGpcStatus(current.gpc.notice); }
    return current;
  });

  window.PortalConsent = {
    ready: ready,
    get: function () { return state; },
    allowed: function (category) { return Boolean(state && state.choices[category]); },
    onChange: function (listener) { listeners.push(listener); }
  };
}());
