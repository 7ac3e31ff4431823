// proofgrid console: shows times in the viewer's zone and keeps marked
// fragments fresh by polling them. No framework, no build step.
(function () {
  "use strict";

  // localize rewrites <time datetime> elements in the viewer's zone.
  function localize(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.title = el.getAttribute("datetime");
      el.textContent = d.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
      });
    });
  }

  var every = 3000;

  // refresh polls one [data-refresh] element's fragment and swaps it in.
  // Polling stops while the tab is hidden; a lost session sends the
  // viewer to the sign-in page.
  function refresh(el) {
    var busy = false;
    function tick() {
      if (busy || document.hidden) return;
      busy = true;
      fetch(el.getAttribute("data-refresh"), {
        credentials: "same-origin",
        headers: { "X-Console-Fragment": "1" }
      }).then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      }).then(function (html) {
        if (html !== null && html !== undefined && html !== el.innerHTML) {
          el.innerHTML = html;
          localize(el);
        }
      }).catch(function () { /* the next tick tries again */ })
        .finally(function () { busy = false; });
    }
    setInterval(tick, every);
  }

  // tail appends a growing log ([data-tail]) from the byte offset it
  // reached.
  function tail(el) {
    var next = parseInt(el.getAttribute("data-next") || "0", 10);
    function tick() {
      if (document.hidden) return;
      fetch(el.getAttribute("data-tail") + "?since=" + next, {
        credentials: "same-origin", headers: { "X-Console-Fragment": "1" }
      }).then(function (r) {
        if (!r.ok) return null;
        var n = parseInt(r.headers.get("X-Log-Next") || "", 10);
        if (!isNaN(n)) next = n;
        return r.text();
      }).then(function (text) {
        if (text) {
          var atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
          el.appendChild(document.createTextNode(text));
          if (atEnd) el.scrollTop = el.scrollHeight;
        }
      }).catch(function () {});
    }
    setInterval(tick, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var main = document.getElementById("main");
    var ms = main && parseInt(main.getAttribute("data-refresh-ms"), 10);
    if (ms > 0) every = ms;
    localize(document);
    document.querySelectorAll("[data-refresh]").forEach(refresh);
    document.querySelectorAll("[data-tail]").forEach(tail);
  });
})();
