// After a submit the inbox says what happens next (templates/_submitted.html). While the
// notice #done is waiting for the case's next task, fetch the same page again every second,
// a few times, and put in its notice and its task list: the next task shows as soon as the
// flow has opened it, and the inbox never reads "no task" in between. A file of its own, not
// an inline script, so that a Content-Security-Policy without 'unsafe-inline' allows it.
(function () {
  "use strict";
  var TRIES = 12, EVERY_MS = 1000, tries = 0;

  function waiting() {
    var done = document.getElementById("done");
    return done !== null && done.getAttribute("data-waiting") === "true";
  }

  function swap(fresh) {
    ["done", "inbox-list"].forEach(function (id) {
      var here = document.getElementById(id), there = fresh.getElementById(id);
      if (here !== null && there !== null) {
        here.replaceWith(document.importNode(there, true));
      }
    });
  }

  function poll() {
    if (!waiting() || tries >= TRIES) {
      return;
    }
    tries += 1;
    fetch(window.location.href, {credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        swap(new DOMParser().parseFromString(html, "text/html"));
      })
      .catch(function () { /* try again on the next tick */ })
      .then(function () { window.setTimeout(poll, EVERY_MS); });
  }

  function start() {
    window.setTimeout(poll, EVERY_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
