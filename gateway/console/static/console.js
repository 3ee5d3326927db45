// Enhancement only: every page works without this file (forms post and pages reload).
// 1. htmx requests carry the session's CSRF token. 2. New alerts arrive by server-sent events and
// refresh the parts of the page that listen for "alerts-changed".
(function () {
  var csrf = document.body.getAttribute("data-csrf");
  document.body.addEventListener("htmx:configRequest", function (e) {
    if (csrf) { e.detail.headers["X-CSRF-Token"] = csrf; }
  });
  if (!window.EventSource) { return; }
  var last = null;
  var source = new EventSource("/events");
  source.addEventListener("alerts", function (e) {
    if (last !== null && e.data !== last) {
      document.body.dispatchEvent(new CustomEvent("alerts-changed"));
      var badge = document.getElementById("live");
      if (badge) { badge.classList.add("new"); }
    }
    last = e.data;
  });
})();
