// hotline console: the light touch of script the server-rendered pages need.
// 1. The live feed: pages with an element marked [data-live] open the event
//    stream (/live, Server-Sent Events) and re-announce every event on
//    <body> as a DOM event `hotline-event`; htmx fragments listen with
//    hx-trigger="hotline-event from:body" and re-fetch themselves.
// 2. Clocks: [data-elapsed-ms] counts up (time in state, wait), and
//    [data-remaining-ms] counts down (wrap-up), from the server's figure
//    at render time, so no clock skew between browser and server matters.
(function () {
  "use strict";

  function startLiveFeed() {
    if (!document.querySelector("[data-live]") || !window.EventSource) return;
    var source = new EventSource("/live");
    var kinds = ["agent.state", "inquiry.created", "inquiry.updated", "inquiry.message"];
    function announce(event) {
      var data = null;
      try { data = JSON.parse(event.data); } catch (e) { data = null; }
      document.body.dispatchEvent(new CustomEvent("hotline-event", {
        detail: { kind: event.type, event: data }
      }));
      var live = document.getElementById("live-status");
      if (live) live.dataset.lastEvent = event.lastEventId || "";
    }
    kinds.forEach(function (kind) { source.addEventListener(kind, announce); });
    source.onmessage = announce;
    source.onopen = function () {
      var live = document.getElementById("live-status");
      if (live) live.classList.add("connected");
    };
    source.onerror = function () {
      var live = document.getElementById("live-status");
      if (live) live.classList.remove("connected");
    };
  }

  var seen = new WeakMap();
  function format(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = (m < 10 ? "0" : "") + m, ss = (sec < 10 ? "0" : "") + sec;
    return h > 0 ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-elapsed-ms],[data-remaining-ms]").forEach(function (el) {
      if (!seen.has(el)) seen.set(el, now);
      var since = now - seen.get(el);
      if (el.dataset.elapsedMs !== undefined) {
        el.textContent = format(Number(el.dataset.elapsedMs) + since);
      } else {
        el.textContent = format(Number(el.dataset.remainingMs) - since);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    startLiveFeed();
    tick();
    setInterval(tick, 1000);
  });
  document.addEventListener("htmx:afterSwap", tick);
})();
