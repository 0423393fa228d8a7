// The Logs page: an EventSource on /v1/logs (format=json), one line per
// record.  A reconnect (logbus-http or logbusd restarted) resumes after
// the last record shown: the browser sends Last-Event-ID, the record's
// cursor, and lines already shown (by sequence number) are never added
// twice.  At most MAX_LINES lines stay on screen: the oldest go first.
"use strict";
(function () {
  const MAX_LINES = 10000;
  const INITIAL_TAIL = 500;
  const $ = (id) => document.getElementById(id);
  const lines = $("lines"), status = $("status"), count = $("count");
  const params = new URLSearchParams(location.hash.slice(1));
  let es = null, lastSeq = 0, lastCursor = "", paused = false;
  let pending = [], scheduled = false, shown = 0;

  if (params.get("token")) localStorage.setItem("logbus-token", params.get("token"));
  $("token").value = localStorage.getItem("logbus-token") || "";
  for (const k of ["service", "level", "q"]) if (params.get(k)) $(k).value = params.get(k);

  function setStatus(text, cls) {
    status.textContent = text;
    status.className = "status " + (cls || "");
  }

  function levelClass(n) {
    if (n >= 50) return "lvl-critical";
    if (n >= 40) return "lvl-error";
    if (n >= 30) return "lvl-warning";
    if (n >= 20) return "lvl-info";
    return "lvl-debug";
  }

  function lineFor(r) {
    const div = document.createElement("div");
    div.className = "line " + levelClass(r.level_no);
    div.dataset.seq = r.seq;
    const t = document.createElement("span");
    t.className = "t";
    t.textContent = r.time + " "; // a space, not a margin: lines copy as text
    const s = document.createElement("span");
    s.className = "s";
    s.textContent = "[" + r.level + "] " + r.logger + " " + r.service + ":";
    div.append(t, s, document.createTextNode(" " + r.message));
    return div;
  }

  function flush() {
    scheduled = false;
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    const frag = document.createDocumentFragment();
    for (const r of pending) frag.append(lineFor(r));
    shown += pending.length;
    pending = [];
    lines.append(frag);
    while (lines.childElementCount > MAX_LINES) lines.firstElementChild.remove();
    count.textContent = lines.childElementCount + " lines" +
      (shown > lines.childElementCount ? " (oldest dropped beyond " + MAX_LINES + ")" : "");
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
  }

  function onLog(ev) {
    const r = JSON.parse(ev.data);
    if (r.seq <= lastSeq) return; // already on screen
    lastSeq = r.seq;
    lastCursor = ev.lastEventId || r.cursor;
    pending.push(r);
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(flush);
    }
  }

  function note(text) {
    const div = document.createElement("div");
    div.className = "note";
    div.textContent = text;
    lines.append(div);
  }

  function url(resume) {
    const u = new URLSearchParams({ format: "json" });
    if (resume && lastCursor) u.set("cursor", lastCursor);
    else u.set("tail", String(INITIAL_TAIL));
    const svc = $("service").value.trim();
    if (svc) for (const s of svc.split(/[\s,]+/)) u.append("service", s);
    if ($("level").value) u.set("level", $("level").value);
    if ($("q").value) u.set("q", $("q").value);
    const tok = $("token").value.trim();
    if (tok) u.set("token", tok); // an EventSource cannot send a header
    return "v1/logs?" + u.toString();
  }

  function connect(resume) {
    if (es) es.close();
    es = new EventSource(url(resume));
    setStatus("connecting");
    es.addEventListener("open", () => setStatus("live", "live"));
    es.addEventListener("log", onLog);
    es.addEventListener("error", (ev) => {
      if (ev.data) { // the server's event: error
        try { note(JSON.parse(ev.data).message); } catch (e) { note(ev.data); }
        return;
      }
      setStatus(es.readyState === EventSource.CLOSED ? "closed" : "reconnecting", "down");
      if (es.readyState === EventSource.CLOSED) setTimeout(() => connect(true), 2000);
    });
  }

  function restart() {
    lines.textContent = "";
    pending = []; // the old stream's records, not drawn yet
    lastSeq = 0;
    lastCursor = "";
    shown = 0;
    if (!paused) connect(false);
  }

  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").textContent = paused ? "Follow" : "Pause";
    if (paused) {
      if (es) es.close();
      es = null;
      setStatus("paused", "paused");
    } else {
      connect(lastCursor !== "");
    }
  });
  $("clear").addEventListener("click", () => { lines.textContent = ""; });
  $("timestamps").addEventListener("change", (e) => lines.classList.toggle("no-time", !e.target.checked));
  for (const id of ["service", "level", "q"]) $(id).addEventListener("change", restart);
  $("token").addEventListener("change", () => {
    localStorage.setItem("logbus-token", $("token").value.trim());
    restart();
  });

  const tok = $("token").value.trim();
  fetch("v1/services", tok ? { headers: { Authorization: "Bearer " + tok } } : {})
    .then((r) => (r.ok ? r.json() : []))
    .then((v) => {
      for (const s of v) {
        const o = document.createElement("option");
        o.value = s.service;
        $("services").append(o);
      }
    })
    .catch(() => {});

  window.logbusPage = { lines: () => lines.childElementCount, lastSeq: () => lastSeq };
  connect(false);
})();
