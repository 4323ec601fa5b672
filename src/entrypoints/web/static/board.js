// The supervisor's board, live: listen to the log's events (`GET /events`, from the position
// the page was made at; the browser resumes with Last-Event-ID when it reconnects) and, at
// most once a second, fetch the board's panels again and swap them in. Without this script
// the page is the board as it was loaded.
(function () {
  "use strict";
  var panels = document.getElementById("board-panels");
  var status = document.getElementById("board-status");
  if (!panels || !window.EventSource || !window.fetch) { return; }
  var EVERY_MS = 1000;
  var last = 0;
  var timer = null;
  var busy = false;
  var again = false;
  var stopped = false;

  function say(which) {
    if (status && status.getAttribute("data-" + which)) {
      status.textContent = status.getAttribute("data-" + which);
    }
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    last = Date.now();
    panels.setAttribute("aria-busy", "true");
    fetch(panels.getAttribute("data-panels"), {
      credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" }
    }).then(function (answer) {
      // Signed out (sent to the sign-in page) or refused: stop rather than show it here.
      if (answer.redirected || answer.status === 401 || answer.status === 403) {
        stopped = true;
      }
      if (!answer.ok || stopped) { throw new Error("status " + answer.status); }
      return answer.text();
    }).then(function (html) {
      panels.innerHTML = html;
      say("live");
    }).catch(function () {
      // A failure now (the server restarting) is tried again on the next event.
      if (stopped) { source.close(); }
      say("failed");
    }).then(function () {
      busy = false;
      panels.removeAttribute("aria-busy");
      if (again && !stopped) { again = false; schedule(); }
    });
  }

  function schedule() {
    if (timer !== null || stopped) { return; }
    var wait = Math.max(0, last + EVERY_MS - Date.now());
    timer = window.setTimeout(function () { timer = null; refresh(); }, wait);
  }

  var source = new EventSource(panels.getAttribute("data-events"));
  (panels.getAttribute("data-topics") || "").split(" ").forEach(function (topic) {
    if (topic) { source.addEventListener(topic, schedule); }
  });
  source.addEventListener("message", schedule);
  source.addEventListener("open", function () { if (!stopped) { say("live"); } });
  source.addEventListener("error", function () {
    if (stopped) { return; }
    if (source.readyState === EventSource.CLOSED) { stopped = true; say("failed"); }
    else { say("waiting"); }
  });
  window.addEventListener("pagehide", function () { source.close(); });
  // Back to this page from the browser's cache: its stream was closed; load it afresh.
  window.addEventListener("pageshow", function (event) { if (event.persisted) { location.reload(); } });
})();
