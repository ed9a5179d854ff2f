// netmon: the page's theme before its first paint. A choice made with the header's button
// (static/netmon.js) is kept in localStorage; without one the browser's prefers-color-scheme
// decides (netmon.css). The wall is always dark (data-theme-fixed).
(function () {
  "use strict";
  var root = document.documentElement;
  if (root.hasAttribute("data-theme-fixed")) {
    return;
  }
  try {
    var chosen = window.localStorage.getItem("netmon-theme");
    if (chosen === "light" || chosen === "dark") {
      root.setAttribute("data-theme", chosen);
    }
  } catch (e) {
    // storage refused (private mode): the browser's preference stays
  }
})();
