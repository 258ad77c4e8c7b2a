// kmigrate dashboard: polls /v1/dashboard and renders it. No framework and
// no build step; charts by uPlot (vendor/, MIT). Every value is set with
// textContent, never as HTML.
"use strict";

const PHASES = [
  ["sync", "Sync"], ["producers", "Producers"], ["consumers", "Consumers"], ["promote", "Promote"], ["done", "Done"],
];
const POLL_MS = 3000;
const charts = new Map(); // topic -> {rates, lag}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// A count or rate below 0 is one the report could not know (status
// --serve without the source): said in words, never shown as a number.
function num(n, digits) {
  if (n === undefined || n === null) return "–";
  if (n < 0) return "unknown";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits || 0 });
}

function seconds(s) {
  if (!s) return "0 s";
  if (s < 0) return "unknown";
  if (s < 120) return num(s, 1) + " s";
  if (s < 7200) return num(s / 60, 1) + " min";
  return num(s / 3600, 1) + " h";
}

function when(t) {
  if (!t || t.startsWith("0001")) return "–";
  return new Date(t).toLocaleString("en-GB", { hour12: false });
}

function side(s) {
  if (!s) return "–";
  let t = s.state || "unknown";
  if (s.members) t += ` (${s.members} member${s.members === 1 ? "" : "s"})`;
  if (s.error) t += ` – ${s.error}`;
  return t;
}

function renderPhase(st) {
  const tl = document.getElementById("timeline");
  tl.replaceChildren();
  const at = PHASES.findIndex(([p]) => p === st.phase);
  PHASES.forEach(([p, name], i) => {
    const li = el("li", { "data-phase": p }, name);
    if (i < at || st.phase === "done") li.className = "done";
    if (i === at && st.phase !== "done") { li.className = "current"; li.setAttribute("aria-current", "step"); }
    tl.append(li);
  });
  document.getElementById("phase").textContent = st.phase;
  document.getElementById("next").textContent = st.next || "–";
  const bl = document.getElementById("blockers");
  bl.replaceChildren(...(st.blockers || []).map((b) => el("li", {}, b)));
  document.getElementById("blockers-box").hidden = !(st.blockers || []).length;
  document.getElementById("warnings").replaceChildren(...(st.warnings || []).map((w) => el("li", {}, w)));
}

function renderTopics(st, last) {
  const body = document.querySelector("#topics tbody");
  body.replaceChildren();
  for (const t of st.topics || []) {
    const p = (last && last.topics[t.source]) || {};
    const promoted = t.promoted
      ? el("span", { class: "tag promoted" }, "promoted " + when(t.promoted))
      : el("span", {}, "no");
    body.append(el("tr", { "data-topic": t.source },
      el("th", { scope: "row" }, t.source),
      el("td", {}, t.target),
      el("td", { "data-field": "state" }, t.state),
      el("td", { class: "num", "data-field": "lag" }, num(t.lag)),
      el("td", { class: "num" }, seconds(t.lag_seconds)),
      el("td", { class: "num" }, num(t.source_write_rate, 1)),
      el("td", { class: "num" }, p.copy_rate === undefined ? "–" : num(p.copy_rate, 1)),
      el("td", { class: "num" }, num(t.target_native_rate, 1)),
      el("td", { "data-field": "producers" }, t.producers),
      el("td", { "data-field": "promoted" }, promoted),
    ));
  }
}

function chartWidth(box) {
  return Math.max(200, box.clientWidth - 14);
}

// Charts follow their card's width (a phone turned, a window resized).
window.addEventListener("resize", () => {
  for (const c of charts.values()) {
    const w = chartWidth(c.card);
    c.rates.setSize({ width: w, height: 150 });
    c.lag.setSize({ width: w, height: 120 });
  }
});

function renderCharts(history) {
  if (typeof uPlot === "undefined") return;
  const box = document.getElementById("charts");
  const topics = new Set();
  history.forEach((pt) => Object.keys(pt.topics).forEach((t) => topics.add(t)));
  for (const topic of [...topics].sort()) {
    const xs = history.map((pt) => Date.parse(pt.time) / 1000);
    const get = (f) => history.map((pt) => (pt.topics[topic] && pt.topics[topic][f] >= 0 ? pt.topics[topic][f] : null));
    const rates = [xs, get("copy_rate"), get("source_rate"), get("native_rate")];
    const lag = [xs, get("lag")];
    let c = charts.get(topic);
    if (!c) {
      const card = el("div", { class: "chart", "data-chart": topic });
      const r = el("div", {}), l = el("div", {});
      card.append(el("h3", {}, `${topic}: records per second`), r, el("h3", {}, `${topic}: lag (records)`), l);
      box.append(card);
      const w = chartWidth(card);
      // The last six minutes, even with few points (uPlot would span
      // years around a single one).
      const scales = { x: { time: true, range: (u, min, max) => [max - 360, max + 5] } };
      c = {
        card,
        rates: new uPlot({ width: w, height: 150, series: [{},
          { label: "copied/s", stroke: "#0b4f8a", width: 2 },
          { label: "source writes/s", stroke: "#8a4a00", width: 2, dash: [6, 4] },
          { label: "target native/s", stroke: "#14532d", width: 2, dash: [2, 3] }],
          scales, axes: [{}, { size: 60 }] }, rates, r),
        lag: new uPlot({ width: w, height: 120, series: [{}, { label: "lag", stroke: "#8a1010", width: 2 }],
          scales, axes: [{}, { size: 60 }] }, lag, l),
      };
      charts.set(topic, c);
    } else {
      c.rates.setData(rates);
      c.lag.setData(lag);
    }
  }
}

function renderGroups(st) {
  const body = document.querySelector("#groups tbody");
  const gs = st.groups || [];
  document.getElementById("no-groups").hidden = gs.length > 0;
  document.getElementById("groups").hidden = gs.length === 0;
  body.replaceChildren(...gs.map((g) => el("tr", { "data-group": g.group },
    el("th", { scope: "row" }, g.group),
    el("td", {}, side(g.source)),
    el("td", {}, side(g.target)),
    el("td", { "data-field": "switched" }, g.switched ? `yes (${g.switched_how || "seen"})` : "no"),
    el("td", { class: "num" }, num(g.lag)),
    el("td", {}, (g.reasons || []).join("; ")),
  )));
}

function fact(dl, k, v) {
  dl.append(el("dt", {}, k), el("dd", {}, v));
}

function renderMirror(st, m) {
  const dl = document.getElementById("mirror");
  dl.replaceChildren();
  const mi = st.mirror || {};
  fact(dl, "Process", mi.running ? `running${mi.host ? " on " + mi.host : ""}` : "not running");
  fact(dl, "Last seen", when(mi.last_seen));
  if (mi.units) {
    fact(dl, "Work units", String(mi.units));
    for (const mb of mi.members || []) {
      dl.append(el("dt", {}, `Member ${mb.owner}`), el("dd", { "data-member": mb.owner },
        `${mb.running ? "running" : "not running"}; units ${mb.units.join(", ")}; ` +
        `lag ${num(mb.lag)}; ${num(mb.copy_rate, 1)} copied/s; last seen ${when(mb.last_seen)}`));
    }
    const idle = (mi.unit_list || []).filter((u) => !u.owner).map((u) => u.unit);
    if (idle.length) fact(dl, "Units never started", idle.join(", "));
  }
  if (m) {
    fact(dl, "Copied by this process", `${num(m.records)} records in ${num(m.transactions)} transactions`);
    fact(dl, "Sessions", `${num(m.sessions)} (${num(m.errors)} ended in an error)`);
    const stopped = (m.partitions || []).filter((p) => p.stopped);
    fact(dl, "Stopped partitions", stopped.length ? stopped.map((p) => `${p.topic}/${p.partition}: ${p.stopped}`).join("; ") : "none");
    if (m.last_error) fact(dl, "Last error", m.last_error);
  }
}

function renderVerify(v) {
  const p = document.getElementById("verify");
  if (!v) return;
  const verdict = v.ok ? "PASSED" : "FAILED";
  let t = `${verdict}: ${v.mode} check started ${when(v.time)}${v.host ? " on " + v.host : ""}, ` +
    `${num(v.matched)} of ${num(v.source_records)} source records matched in ${num(v.partitions)} partitions`;
  if (v.problems) t += `, ${num(v.problems)} problems in ${num(v.failed_partitions)} partitions`;
  if (v.error_partitions) t += `, ${num(v.error_partitions)} partitions unreadable`;
  if (v.pending) t += `, ${num(v.pending)} records copied since (not verified)`;
  if (v.groups_checked) t += `; groups: ${num(v.groups_checked - v.groups_failed)} of ${num(v.groups_checked)} resume where they should`;
  p.replaceChildren(el("span", { class: "tag " + (v.ok ? "promoted" : "bad") }, verdict), " " + t.slice(verdict.length + 2) + ".");
}

function renderHistory(st) {
  const ol = document.getElementById("history");
  const hs = st.history || [];
  ol.replaceChildren(...(hs.length ? hs.slice().reverse().map((e) =>
    el("li", {}, el("time", { datetime: e.time }, when(e.time)), ` ${e.action}${e.detail ? ": " + e.detail : ""}`))
    : [el("li", {}, "Nothing recorded yet.")]));
}

function render(v) {
  const err = document.getElementById("error");
  err.hidden = !v.error;
  err.textContent = v.error || "";
  const st = v.status;
  const fresh = document.getElementById("freshness");
  if (!st) {
    fresh.textContent = v.error ? "No status yet." : "Waiting for the first status report…";
    return;
  }
  document.getElementById("migration").textContent = st.migration;
  fresh.textContent = `Status of ${when(st.time)}; refreshed every few seconds.` +
    (st.source_unknown ? ` The source is not read from here (${st.source_unknown}): lag and source writes are unknown.` : "");
  renderPhase(st);
  const h = v.history || [];
  renderTopics(st, h[h.length - 1]);
  renderCharts(h);
  renderGroups(st);
  renderMirror(st, v.mirror);
  renderVerify(v.verified);
  renderHistory(st);
}

async function poll() {
  try {
    const r = await fetch("/v1/dashboard", { cache: "no-store" });
    if (!r.ok) throw new Error(`/v1/dashboard: HTTP ${r.status}`);
    render(await r.json());
  } catch (e) {
    const err = document.getElementById("error");
    err.hidden = false;
    err.textContent = `cannot reach kmigrate (${e.message}); retrying`;
  }
  setTimeout(poll, POLL_MS);
}

poll();
