// netmon status page: refresh the page body in place, without a full reload.
// The server renders the same HTML fragment it put in <main>; this script only fetches it
// every few seconds and swaps it in when it changed. No inline script anywhere (CSP).
(function () {
  "use strict";
  var root = document.documentElement;
  var PHONE = window.matchMedia("(max-width: 600px)");

  // The theme switch in the header: light or dark, remembered (static/theme.js applies it).
  var toggle = document.getElementById("theme-toggle");
  function effectiveTheme() {
    var chosen = root.getAttribute("data-theme");
    if (chosen === "light" || chosen === "dark") {
      return chosen;
    }
    return window.matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark";
  }
  function labelToggle() {
    // The button names the theme it switches to.
    toggle.textContent = effectiveTheme() === "dark" ? toggle.dataset.light : toggle.dataset.dark;
  }
  if (toggle) {
    toggle.hidden = false;
    labelToggle();
    toggle.addEventListener("click", function () {
      var next = effectiveTheme() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try {
        window.localStorage.setItem("netmon-theme", next);
      } catch (e) {
        // not kept: this page still switches
      }
      labelToggle();
    });
  }

  // Folded lists (<details data-fold>): the alerts are folded on a phone at first; what the
  // reader opened or closed stays so across the refreshes.
  var folds = {};
  function applyFolds(container) {
    var all = container.querySelectorAll("details[data-fold]");
    for (var i = 0; i < all.length; i++) {
      var key = all[i].dataset.fold;
      if (Object.prototype.hasOwnProperty.call(folds, key)) {
        all[i].open = folds[key];
      } else if (key === "alerts" && PHONE.matches) {
        all[i].open = false;
      }
    }
  }
  document.addEventListener("click", function (event) {
    var summary = event.target.closest ? event.target.closest("summary") : null;
    var details = summary ? summary.parentElement : null;
    if (details && details.dataset.fold) {
      folds[details.dataset.fold] = !details.open; // what the click is about to make it
    }
  });

  var main = document.getElementById("main");
  if (main) {
    applyFolds(main);
  }

  // The wall signs itself in with the token after "#token=" in its address: a long-lived
  // read-only token (role wall, or an operator's), exchanged for a session at /login. The
  // fragment never reaches the server; the screen signs in again when the session ends.
  function wallToken() {
    var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash || "");
    if (!match) {
      return null;
    }
    try {
      return decodeURIComponent(match[1]);
    } catch (e) {
      return match[1]; // not %-encoded text: taken as it is (and refused if wrong)
    }
  }
  function wallSignIn(onRefused) {
    var token = wallToken();
    if (!token) {
      return false;
    }
    var back = "/wall" + window.location.search;
    var body = new URLSearchParams({ token: token, next: back });
    fetch("/login", { method: "POST", credentials: "same-origin", body: body })
      .then(function (response) {
        if (response.ok && response.redirected) {
          window.location.reload();
        } else {
          onRefused();
        }
      })
      .catch(onRefused);
    return true;
  }
  if (main && main.hasAttribute("data-wall-login")) {
    var signing = document.getElementById("wall-signing-in");
    if (wallSignIn(function () {
      signing.hidden = true;
      document.getElementById("wall-refused").hidden = false;
    })) {
      signing.hidden = false;
      document.getElementById("wall-needs-token").hidden = true;
    }
    return;
  }
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
          // Signed out: the wall signs in again with its token; a page shows the sign-in form.
          if (!(main.hasAttribute("data-wall") && wallSignIn(function () { setStale(true); }))) {
            window.location.reload();
          }
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
          applyFolds(main);
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
