/**
 * The status page served at `/`: one self-contained HTML document (inline CSS and script, no
 * external request, no framework) that polls `/api/status` every 2 s and shows routes with their
 * state and last error, TPS per route over the last minutes as inline SVG sparklines, and a table
 * of every owned queue (positions, lag in messages and time, last sync, replicated, errors),
 * grouped under a header row per route (its name, state, clusters and totals).
 *
 * TPS is computed in the browser from successive polls of the routes' replicated-message totals,
 * so the server keeps no history for the page; reloading the page starts the charts afresh.
 *
 * Stable hooks for tests and scripts: every route card carries `data-route="<route name>"`, every
 * route's group of queues `tbody[data-queue-group="<route name>"]` (its header row first), every
 * queue row `data-queue="<route>|<topic>|<broker>#<queueId>"` (plus `data-queue-route`), and the
 * values inside them carry `data-field` (state, replicated, tps, lag, lag-time, last-sync,
 * last-error, sparkline, ...). `#connection` says whether the last poll succeeded;
 * `body[data-polls]` counts successful polls.
 *
 * The document is built once at module load: it does not depend on the request.
 */

const STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #fff; --fg: #1d2430; --muted: #667085; --line: #e3e6eb;
  --ok: #1a7f37; --warn: #b25e00; --bad: #c62828; --accent: #2f6fde; --accent-fill: rgba(47,111,222,.15);
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #12161c; --panel: #1b2129; --fg: #e4e8ee; --muted: #8d97a5; --line: #2c343f;
    --ok: #3fb950; --warn: #d29922; --bad: #f85149; --accent: #58a6ff; --accent-fill: rgba(88,166,255,.18);
  }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 20px; padding: 14px 20px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { font-size: 18px; margin: 0; }
header .meta { color: var(--muted); }
#connection { margin-left: auto; font-weight: 600; }
#connection[data-state="ok"] { color: var(--ok); }
#connection[data-state="error"] { color: var(--bad); }
#connection[data-state="loading"] { color: var(--muted); }
main { padding: 16px 20px 40px; max-width: 1600px; }
h2 { font-size: 15px; margin: 22px 0 10px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.routes { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.route { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.route .title { display: flex; gap: 8px; align-items: baseline; }
.route .name { font-weight: 600; overflow-wrap: anywhere; min-width: 0; }
.name .side { display: inline-block; }
.route .path { color: var(--muted); font-size: 12px; margin: 2px 0 8px; overflow-wrap: anywhere; }
.route .path .bad { color: var(--bad); font-weight: 600; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600; color: #fff; background: var(--muted); }
.badge[data-value="running"], .badge[data-value="ready"] { background: var(--ok); }
.badge[data-value="error"], .badge[data-value="failed"], .badge[data-value="not-ready"] { background: var(--bad); }
.badge[data-value="resolving"], .badge[data-value="paused"], .badge[data-value="backoff"] { background: var(--warn); }
/* The third column (in flight, last sync "150 ms ago") needs the most room, the second the least. */
.stats { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, .85fr) minmax(0, 1.15fr); gap: 6px 10px; margin: 8px 0; }
.stat .k { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .03em; }
.stat .v { font-variant-numeric: tabular-nums; font-size: 16px; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.spark { width: 100%; height: 56px; display: block; }
.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.spark polygon { fill: var(--accent-fill); stroke: none; }
.spark-legend { display: flex; justify-content: space-between; color: var(--muted); font-size: 11px; }
.route .probe { color: var(--muted); font-size: 12px; margin-top: 4px; }
.route .probe:empty { display: none; }
.route .err { margin-top: 8px; color: var(--bad); font-size: 12px; word-break: break-word; }
.route .err:empty { display: none; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; text-align: left; white-space: nowrap; border-bottom: 1px solid var(--line); }
thead th { font-size: 11px; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); background: var(--panel); }
td.num, th.num { text-align: right; }
tbody:last-child tr:last-child > * { border-bottom: none; }
tbody + tbody tr.group-head > * { border-top: 2px solid var(--line); }
tr.group-head > * { background: var(--bg); border-bottom: 1px solid var(--line); padding-top: 8px; padding-bottom: 8px; }
tr.group-head th { text-align: left; white-space: normal; font-weight: 400; }
tr.group-head td { font-weight: 600; vertical-align: top; }
.group-title { display: flex; gap: 8px; align-items: baseline; }
/* A route name wraps only at the <wbr> after its separators, when the columns it spans are too
   narrow for it: break-word, unlike anywhere, keeps its minimum width at its longest part. */
.group-title .name { font-weight: 600; overflow-wrap: break-word; min-width: 0; }
tr.group-head .sub { color: var(--muted); font-size: 12px; margin-top: 2px; }
tr.group-head .sub .bad { color: var(--bad); font-weight: 600; }
tr[data-queue] > td:first-child { padding-left: 22px; }
td.bad { color: var(--bad); font-weight: 600; }
td.warn { color: var(--warn); font-weight: 600; }
.empty { padding: 14px; color: var(--muted); }
#errors li { margin: 4px 0; word-break: break-word; }
#errors .when { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: 8px; }
#errors .where { font-weight: 600; margin-right: 8px; }
#errors ul { margin: 0; padding: 10px 14px 10px 30px; }
`;

/**
 * Browser code, plain ES2020. It builds every element with createElement/textContent (error
 * messages come from brokers and are never interpreted as HTML). Kept free of template literals
 * so it can live inside this module's template string untouched.
 */
const SCRIPT = String.raw`
(function () {
  "use strict";
  var POLL_MS = 2000;
  var HISTORY_MS = 5 * 60 * 1000;
  var history = {}; // route name -> [{ t: server ms, total: replicated messages }]
  var polls = 0;
  var last = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  // Route names ("east:/^pay_.*/->west:east_<topic template>") as text that wraps at sensible
  // points when too long for its place: first between source and target (each side of "->" is
  // an inline block, moved whole to the next line when it fits there), then after a separator
  // inside a side; in the middle of a part only where the CSS allows it as a last resort (cards).
  var SEPARATORS = /->|[\/:._,|-]/g; // "->" first: no break between its "-" and ">"
  function breakable(parent, text) {
    var sides = String(text).split("->");
    if (sides.length === 1) return breakAfterSeparators(parent, sides[0]);
    sides.forEach(function (side, i) {
      if (i > 0) parent.appendChild(document.createElement("wbr"));
      parent.appendChild(breakAfterSeparators(el("span", { "class": "side" }), i < sides.length - 1 ? side + "->" : side));
    });
    return parent;
  }
  function breakAfterSeparators(parent, s) {
    var at = 0, m;
    SEPARATORS.lastIndex = 0;
    while ((m = SEPARATORS.exec(s)) !== null) {
      var end = m.index + m[0].length;
      if (end >= s.length) break;
      parent.appendChild(document.createTextNode(s.slice(at, end)));
      parent.appendChild(document.createElement("wbr"));
      at = end;
    }
    parent.appendChild(document.createTextNode(s.slice(at)));
    return parent;
  }
  function big(v) {
    // Offsets and lag arrive as decimal strings (bigints); counters as numbers.
    if (v === undefined || v === null || v === "") return null;
    try { return BigInt(v); } catch (e) { return null; }
  }
  function fmtInt(v) {
    if (v === undefined || v === null) return "\u2013";
    var s = String(v);
    if (!/^-?\d+$/.test(s)) return s;
    var neg = s.charAt(0) === "-";
    if (neg) s = s.slice(1);
    var out = "";
    while (s.length > 3) { out = "," + s.slice(-3) + out; s = s.slice(0, -3); }
    return (neg ? "-" : "") + s + out;
  }
  function fmtRate(r) {
    if (r === null || r === undefined || !isFinite(r)) return "\u2013";
    if (r >= 100) return fmtInt(Math.round(r));
    if (r >= 10) return r.toFixed(1);
    return r.toFixed(2);
  }
  function fmtDuration(ms) {
    if (ms === undefined || ms === null || !isFinite(ms)) return "\u2013";
    if (ms < 0) ms = 0;
    if (ms < 1000) return Math.round(ms) + " ms";
    var s = ms / 1000;
    if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
    var h = Math.floor(m / 60);
    if (h < 48) return h + "h" + String(m % 60).padStart(2, "0") + "m";
    return Math.floor(h / 24) + "d" + (h % 24) + "h";
  }
  function ago(atMs, now) {
    if (atMs === undefined || atMs === null) return "never";
    return fmtDuration(now - atMs) + " ago";
  }
  function clock(atMs) {
    if (atMs === undefined || atMs === null) return "";
    return new Date(atMs).toLocaleString();
  }
  function sumErrors(q) {
    var n = 0, kinds = q.errorsByKind || {};
    for (var k in kinds) n += Number(kinds[k]) || 0;
    return n;
  }
  function isFailed(q) { return q.state === "failed" || q.state === "error"; }
  // A running queue retrying a pull or a send that fails now (what /readyz reports), by direction.
  function failingDirections(q) {
    if (q.state !== "running") return [];
    var d = [];
    if (q.pullFailure) d.push("pull");
    if (q.sendFailure) d.push("send");
    return d;
  }
  function isFailing(q) { return failingDirections(q).length > 0; }
  // " · 1 failed · 2 failing" for a route's queues: what is stopped and what is retrying now.
  function appendTroubles(parent, qs) {
    var failed = qs.filter(isFailed).length, failing = qs.filter(isFailing).length;
    if (failed > 0) parent.appendChild(el("span", { "class": "bad", "data-field": "failed" }, " \u00b7 " + failed + " failed"));
    if (failing > 0) parent.appendChild(el("span", { "class": "bad", "data-field": "failing" }, " \u00b7 " + failing + " failing"));
  }
  function queueCount(n) { return n === 0 ? "no queues" : n + " queue" + (n === 1 ? "" : "s"); }
  function errorsTitle(q) {
    var kinds = q.errorsByKind || {}, parts = [];
    for (var k in kinds) parts.push(k + ": " + kinds[k]);
    return parts.join(", ");
  }

  function record(status, now) {
    var totals = {};
    status.routes.forEach(function (r) { totals[r.name] = 0; });
    status.queues.forEach(function (q) {
      totals[q.route] = (totals[q.route] || 0) + (Number(q.replicatedMessages) || 0);
    });
    for (var name in totals) {
      var h = history[name] || (history[name] = []);
      var prev = h[h.length - 1];
      if (!prev || now > prev.t) h.push({ t: now, total: totals[name] });
      while (h.length > 2 && now - h[0].t > HISTORY_MS) h.shift();
    }
    return totals;
  }
  // Rates between successive polls, messages per second; a total that went down (a restart
  // of the connector) counts as 0 rather than as a negative rate.
  function rates(name) {
    var h = history[name] || [], out = [];
    for (var i = 1; i < h.length; i++) {
      var dt = (h[i].t - h[i - 1].t) / 1000;
      var d = h[i].total - h[i - 1].total;
      out.push({ t: h[i].t, r: dt > 0 && d > 0 ? d / dt : 0 });
    }
    return out;
  }

  // The chart spans the history we have (at least 30 s, at most HISTORY_MS), so a freshly
  // opened page shows a line at once instead of a sliver at the right edge.
  function span(name, now) {
    var h = history[name] || [];
    var have = h.length ? now - h[0].t : 0;
    return Math.min(HISTORY_MS, Math.max(30000, have));
  }

  var SVG = "http://www.w3.org/2000/svg";
  function sparkline(points, now, spanMs) {
    var w = 300, hgt = 50;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 " + w + " " + hgt);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("data-field", "sparkline");
    svg.setAttribute("data-points", String(points.length));
    svg.setAttribute("role", "img");
    var max = 0;
    points.forEach(function (p) { if (p.r > max) max = p.r; });
    svg.setAttribute("aria-label", "messages per second over the last " + fmtDuration(spanMs) + ", max " + fmtRate(max));
    if (points.length === 0) return svg;
    var top = max > 0 ? max * 1.1 : 1;
    var coords = points.map(function (p) {
      var x = w - ((now - p.t) / spanMs) * w;
      var y = hgt - (p.r / top) * (hgt - 2) - 1;
      return Math.max(0, x).toFixed(1) + "," + y.toFixed(1);
    });
    if (coords.length === 1) coords.unshift("0," + coords[0].split(",")[1]);
    var firstX = coords[0].split(",")[0], lastX = coords[coords.length - 1].split(",")[0];
    var area = document.createElementNS(SVG, "polygon");
    area.setAttribute("points", firstX + "," + hgt + " " + coords.join(" ") + " " + lastX + "," + hgt);
    var line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", coords.join(" "));
    svg.appendChild(area);
    svg.appendChild(line);
    return svg;
  }

  function stat(label, field, value, title) {
    var d = el("div", { "class": "stat" });
    d.appendChild(el("div", { "class": "k" }, label));
    d.appendChild(el("div", { "class": "v", "data-field": field, title: title || null }, value));
    return d;
  }

  function renderRoutes(status, now, totals) {
    var box = $("routes");
    box.textContent = "";
    if (status.routes.length === 0) { box.appendChild(el("div", { "class": "empty" }, "No routes.")); return; }
    status.routes.forEach(function (r) {
      var qs = status.queues.filter(function (q) { return q.route === r.name; });
      var lag = 0n, lagKnown = false, lagMs = 0, lastSync = null, inFlight = 0;
      qs.forEach(function (q) {
        var l = big(q.lagMessages);
        if (l !== null) { lag += l; lagKnown = true; }
        if ((q.lagMs || 0) > lagMs) lagMs = q.lagMs;
        if (q.lastSyncAtMs != null && (lastSync === null || q.lastSyncAtMs > lastSync)) lastSync = q.lastSyncAtMs;
        inFlight += Number(q.inFlightMessages) || 0;
      });
      var rs = rates(r.name);
      var tps = rs.length ? rs[rs.length - 1].r : null;
      var card = el("section", { "class": "route", "data-route": r.name });
      var title = el("div", { "class": "title" });
      title.appendChild(el("span", { "class": "badge", "data-field": "state", "data-value": r.state }, r.state));
      title.appendChild(breakable(el("span", { "class": "name", "data-field": "name" }), r.name));
      card.appendChild(title);
      var path = el("div", { "class": "path" }, r.sourceCluster + " \u2192 " + r.targetCluster + " \u00b7 " + queueCount(qs.length));
      // A route keeps running while one of its queues has failed or is failing: say so where the route is.
      appendTroubles(path, qs);
      if (r.sourceTopics && r.sourceTopics.length) path.appendChild(document.createTextNode(" \u00b7 " + r.sourceTopics.join(", ")));
      card.appendChild(path);
      var stats = el("div", { "class": "stats" });
      stats.appendChild(stat("replicated", "replicated", fmtInt(totals[r.name] || 0)));
      stats.appendChild(stat("msg/s", "tps", fmtRate(tps)));
      stats.appendChild(stat("in flight", "in-flight", fmtInt(inFlight)));
      stats.appendChild(stat("lag msgs", "lag", lagKnown ? fmtInt(lag.toString()) : "\u2013", lagKnown ? fmtInt(lag.toString()) : null));
      stats.appendChild(stat("lag time", "lag-time", fmtDuration(lagMs)));
      stats.appendChild(stat("last sync", "last-sync", ago(lastSync, now), clock(lastSync)));
      card.appendChild(stats);
      var spanMs = span(r.name, now);
      card.appendChild(sparkline(rs, now, spanMs));
      var max = 0;
      rs.forEach(function (p) { if (p.r > max) max = p.r; });
      var legend = el("div", { "class": "spark-legend" });
      legend.appendChild(el("span", null, "msg/s, last " + fmtDuration(spanMs)));
      legend.appendChild(el("span", null, "max " + fmtRate(max)));
      card.appendChild(legend);
      // Heartbeat probes (when enabled) measure the route even while no user message flows.
      var probe = (status.probes || []).filter(function (p) { return p.route === r.name; })[0];
      var pl = el("div", { "class": "probe", "data-field": "probe" });
      if (probe) {
        pl.appendChild(document.createTextNode("heartbeat probe: "));
        pl.appendChild(el("span", { "data-field": "probe-latency" }, probe.lastLatencyMs == null ? "\u2013" : fmtDuration(probe.lastLatencyMs)));
        pl.appendChild(document.createTextNode(" latency, last "));
        pl.appendChild(el("span", { "data-field": "probe-age" }, ago(probe.lastAckedAtMs, now)));
        if (probe.state !== "running") pl.appendChild(document.createTextNode(" (" + probe.state + ")"));
      }
      card.appendChild(pl);
      card.appendChild(el("div", { "class": "err", "data-field": "last-error", title: r.lastError ? clock(r.lastError.atMs) : null },
        r.lastError ? r.lastError.message + " (" + ago(r.lastError.atMs, now) + ")" : ""));
      box.appendChild(card);
    });
  }

  // Queues grouped under their route, in the routes' order (then any route the queues name that
  // the routes list lacks): a header row per route with its name, state and totals, then its
  // queues sorted by topic, broker, queue id. The route name is shown once, in full, across the
  // first columns; repeating it in a narrow column of every row is what made the table unreadable.
  function renderQueues(status, now, totals) {
    var table = $("queues");
    Array.prototype.slice.call(table.tBodies).forEach(function (b) { table.removeChild(b); });
    var groups = [], byName = {};
    function group(name, route) {
      var g = byName[name];
      if (!g) { g = byName[name] = { name: name, route: route, queues: [] }; groups.push(g); }
      return g;
    }
    status.routes.forEach(function (r) { group(r.name, r); });
    var strays = status.queues.filter(function (q) { return !byName[q.route]; })
      .map(function (q) { return q.route; }).sort();
    strays.forEach(function (name) { group(name, null); });
    status.queues.forEach(function (q) { byName[q.route].queues.push(q); });
    $("queues-empty").hidden = groups.length > 0;
    groups.forEach(function (g) {
      var qs = g.queues.sort(function (a, b) {
        return a.sourceTopic < b.sourceTopic ? -1 : a.sourceTopic > b.sourceTopic ? 1 :
          a.sourceBroker < b.sourceBroker ? -1 : a.sourceBroker > b.sourceBroker ? 1 : a.queueId - b.queueId;
      });
      var tbody = el("tbody", { "data-queue-group": g.name });
      tbody.appendChild(groupRow(g, qs, now, totals));
      qs.forEach(function (q) { tbody.appendChild(queueRow(q, now)); });
      table.appendChild(tbody);
    });
  }

  function groupRow(g, qs, now, totals) {
    var r = g.route;
    var lag = 0n, lagKnown = false, lagMs = 0, lastSync = null, errors = 0;
    qs.forEach(function (q) {
      var l = big(q.lagMessages);
      if (l !== null) { lag += l; lagKnown = true; }
      if ((q.lagMs || 0) > lagMs) lagMs = q.lagMs;
      if (q.lastSyncAtMs != null && (lastSync === null || q.lastSyncAtMs > lastSync)) lastSync = q.lastSyncAtMs;
      errors += sumErrors(q);
    });
    var tr = el("tr", { "class": "group-head" });
    var head = el("th", { scope: "rowgroup", colspan: "4", "data-field": "route" });
    var title = el("div", { "class": "group-title" });
    if (r) title.appendChild(el("span", { "class": "badge", "data-field": "state", "data-value": r.state }, r.state));
    title.appendChild(breakable(el("span", { "class": "name", "data-field": "name" }), g.name));
    head.appendChild(title);
    var sub = el("div", { "class": "sub" });
    sub.appendChild(el("span", { "data-field": "queues" },
      (r ? r.sourceCluster + " \u2192 " + r.targetCluster + " \u00b7 " : "") +
      queueCount(qs.length)));
    appendTroubles(sub, qs);
    head.appendChild(sub);
    tr.appendChild(head);
    function td(field, text, cls, title) {
      tr.appendChild(el("td", { "data-field": field, "class": cls || null, title: title || null }, text));
    }
    td(null, "", "num");
    td(null, "", "num");
    td("lag", lagKnown ? fmtInt(lag.toString()) : "\u2013", "num");
    td("lag-time", fmtDuration(lagMs), "num");
    td("last-sync", lastSync === null ? "never" : fmtDuration(now - lastSync) + " ago", "num", clock(lastSync));
    td("replicated", fmtInt(totals[g.name] || 0), "num");
    td("errors", fmtInt(errors), "num" + (errors > 0 ? " bad" : ""));
    return tr;
  }

  function queueRow(q, now) {
    var tr = el("tr", {
      "data-queue": q.route + "|" + q.sourceTopic + "|" + q.sourceBroker + "#" + q.queueId,
      "data-queue-route": q.route
    });
    function td(field, text, cls, title) {
      tr.appendChild(el("td", { "data-field": field, "class": cls || null, title: title || null }, text));
    }
    var syncAge = q.lastSyncAtMs == null ? null : now - q.lastSyncAtMs;
    var lag = big(q.lagMessages);
    var errors = sumErrors(q);
    td("topic", q.sourceTopic);
    td("queue", q.sourceBroker + "#" + q.queueId);
    // The group header names the target cluster; the target topic only when it differs from the
    // source's (most routes keep the name). The tooltip has all of it.
    td("target", (q.targetTopic === q.sourceTopic ? "" : q.targetTopic + " ") + q.targetBroker + "#" + q.targetQueueId,
      null, q.targetCluster + " " + q.targetTopic + " " + q.targetBroker + "#" + q.targetQueueId);
    var failing = failingDirections(q);
    var current = q.sendFailure || q.pullFailure;
    if (failing.length > 0) {
      td("state", "failing (" + failing.join(", ") + ")", "bad",
        current.message + " (failing since " + clock(current.sinceMs) + ")");
    } else {
      td("state", q.state, isFailed(q) ? "bad" : q.state === "running" ? null : "warn", q.lastError ? q.lastError.message : null);
    }
    td("acked", fmtInt(q.ackedOffset), "num");
    td("committed", fmtInt(q.committedOffset), "num");
    td("lag", lag === null ? "\u2013" : fmtInt(lag.toString()), "num" + (lag !== null && lag > 0n && (q.lagMs || 0) > 10000 ? " warn" : ""));
    td("lag-time", fmtDuration(q.lagMs || 0), "num");
    td("last-sync", q.lastSyncAtMs == null ? "never" : fmtDuration(syncAge) + " ago", "num", clock(q.lastSyncAtMs));
    td("replicated", fmtInt(q.replicatedMessages), "num");
    td("errors", fmtInt(errors), "num" + (errors > 0 ? " bad" : ""), errorsTitle(q) || (q.lastError ? q.lastError.message : null));
    return tr;
  }

  function renderErrors(status, now) {
    var list = [];
    status.routes.forEach(function (r) {
      if (r.lastError) list.push({ at: r.lastError.atMs, where: "route " + r.name, message: r.lastError.message });
    });
    (status.probes || []).forEach(function (p) {
      if (p.lastError) list.push({ at: p.lastError.atMs, where: "probe " + p.route + " (" + p.lastError.kind + ")", message: p.lastError.message });
    });
    status.queues.forEach(function (q) {
      if (q.lastError) list.push({
        at: q.lastError.atMs,
        where: q.route + " " + q.sourceTopic + " " + q.sourceBroker + "#" + q.queueId + " (" + q.lastError.kind + ")",
        message: q.lastError.message
      });
    });
    list.sort(function (a, b) { return b.at - a.at; });
    var box = $("errors");
    box.textContent = "";
    if (list.length === 0) { box.appendChild(el("div", { "class": "empty", "data-field": "no-errors" }, "No errors.")); return; }
    var ul = el("ul");
    list.slice(0, 20).forEach(function (e) {
      var li = el("li", { "data-field": "error" });
      li.appendChild(el("span", { "class": "when", title: clock(e.at) }, ago(e.at, now)));
      li.appendChild(el("span", { "class": "where" }, e.where));
      li.appendChild(el("span", null, e.message));
      ul.appendChild(li);
    });
    box.appendChild(ul);
  }

  function render(status) {
    var now = typeof status.now === "number" ? status.now : Date.now();
    status.routes = status.routes || [];
    status.queues = status.queues || [];
    var totals = record(status, now);
    document.title = (status.name ? status.name + " \u00b7 " : "") + "rmq-connector status";
    $("name").textContent = status.name || "rmq-connector";
    $("uptime").textContent = status.startedAtMs ? "up " + fmtDuration(now - status.startedAtMs) : "";
    var lastSync = null;
    status.queues.forEach(function (q) {
      if (q.lastSyncAtMs != null && (lastSync === null || q.lastSyncAtMs > lastSync)) lastSync = q.lastSyncAtMs;
    });
    // /api/status also says whether /readyz would answer 200, and why not.
    var ready = $("ready");
    if (typeof status.ready === "boolean") {
      var why = status.notReady || [];
      ready.hidden = false;
      ready.setAttribute("data-value", status.ready ? "ready" : "not-ready");
      ready.textContent = status.ready ? "ready" : "not ready";
      ready.title = why.join("\n");
    }
    var ls = $("last-sync");
    ls.textContent = "last sync " + ago(lastSync, now);
    ls.title = clock(lastSync);
    renderRoutes(status, now, totals);
    renderQueues(status, now, totals);
    renderErrors(status, now);
  }

  function setConnection(state, text) {
    var c = $("connection");
    c.setAttribute("data-state", state);
    c.textContent = text;
  }

  function poll() {
    var ctl = typeof AbortController === "function" ? new AbortController() : null;
    var timer = ctl ? setTimeout(function () { ctl.abort(); }, POLL_MS * 2) : null;
    fetch("api/status", { cache: "no-store", signal: ctl ? ctl.signal : undefined })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      })
      .then(function (status) {
        last = status;
        render(status);
        polls++;
        document.body.setAttribute("data-polls", String(polls));
        setConnection("ok", "live \u00b7 " + new Date().toLocaleTimeString());
      })
      .catch(function (err) {
        setConnection("error", "cannot reach the connector (" + (err && err.message ? err.message : err) + ")" +
          (last ? "; showing the last answer" : ""));
      })
      .then(function () {
        if (timer) clearTimeout(timer);
        setTimeout(poll, POLL_MS);
      });
  }
  poll();
})();
`;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rmq-connector status</title>
<style>${STYLE}</style>
</head>
<body data-polls="0">
<header>
  <h1 id="name">rmq-connector</h1>
  <span class="meta" id="uptime"></span>
  <span class="meta" id="last-sync"></span>
  <span class="badge" id="ready" data-value="unknown" hidden></span>
  <span id="connection" data-state="loading">loading…</span>
</header>
<main>
  <h2>Routes</h2>
  <div class="routes" id="routes"></div>
  <h2>Queues</h2>
  <div class="panel">
    <table id="queues">
      <thead><tr>
        <th>topic</th><th>queue</th><th>target</th><th>state</th>
        <th class="num">acked</th><th class="num">committed</th><th class="num">lag msgs</th>
        <th class="num">lag time</th><th class="num">last sync</th><th class="num">replicated</th>
        <th class="num">errors</th>
      </tr></thead>
    </table>
    <div class="empty" id="queues-empty">No queues yet.</div>
  </div>
  <h2>Last errors</h2>
  <div class="panel" id="errors"><div class="empty">No errors.</div></div>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;

/**
 * The status page: a complete HTML document (UTF-8) that needs nothing but `/api/status` on the
 * same origin, resolved relative to the page so it also works behind a path prefix. Serve it with
 * `Content-Type: text/html; charset=utf-8`.
 */
export function statusPageHtml(): string {
  return HTML;
}
