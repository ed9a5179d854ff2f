// netmon status page: refresh the page body in place, without a full reload.
// The server renders the same HTML fragment it put in <main>; this script only fetches it
// every few seconds and swaps it in when it changed. No inline script anywhere (CSP).
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.dataset.fragment) {
    return;
  }
  var url = main.dataset.fragment;
  var every = Math.max(2, parseInt(main.dataset.refresh, 10) || 10) * 1000;
  var stale = document.getElementById("stale");
  var last = null;
  var busy = false;

  function setStale(on) {
    if (stale) {
      stale.hidden = !on;
    }
  }

  // A form being filled in (a note, a maintenance window) is not swapped away under the
  // user's hands: no refresh while a field of one has the focus or holds unsaved text.
  var editing = false;
  main.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("form")) {
      editing = true;
    }
  });
  main.addEventListener("submit", function () {
    editing = false;
  });

  function formFocused() {
    var active = document.activeElement;
    return !!(active && main.contains(active) && active.closest && active.closest("form"));
  }

  function tick() {
    if (busy || document.hidden || editing || formFocused()) {
      return;
    }
    busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location.reload(); // signed out: the page shows the sign-in form
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        setStale(false);
        if (html !== last) {
          last = html;
          main.innerHTML = html;
          main.dataset.refreshed = String(Date.now());
        }
      })
      .catch(function () {
        setStale(true);
      })
      .then(function () {
        busy = false;
      });
  }

  // The acknowledge button of an alert (noc role, monitor/web/api.py ack_handler): a
  // same-origin JSON POST with the session, then the fragment again.
  main.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-ack]") : null;
    if (!button) {
      return;
    }
    button.disabled = true;
    fetch("/api/v1/alerts/" + encodeURIComponent(button.dataset.ack) + "/ack", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ note: "" }),
    })
      .catch(function () {
        return null;
      })
      .then(function () {
        last = null;
        tick();
      });
  });

  window.setInterval(tick, every);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      tick();
    }
  });
})();
