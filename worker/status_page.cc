#include "worker/status_page.h"

#include "common/cli.h"
#include "common/ops_server.h"

namespace connector {
namespace {

// Appends rather than uses operator+, which trips GCC 12's -Wrestrict false
// positive at -O3 (Release builds with -Werror).
std::string Quoted(const std::string& text) {
  std::string quoted = "\"";
  quoted += JsonEscape(text);
  quoted += '"';
  return quoted;
}

}  // namespace

std::string StatusJson(const QueueStatus& status, const PauseState& pause,
                       const std::string& worker_id) {
  std::string json = "{";
  json += "\"read_at_ms\":" + std::to_string(status.read_at_ms);
  json += ",\"worker_id\":" + Quoted(worker_id);
  json += ",\"version\":" + Quoted(Version());
  json += ",\"paused\":" + std::string(pause.paused ? "true" : "false");
  json += ",\"pause_cause\":" + Quoted(pause.cause);

  json += ",\"events_by_state\":{";
  bool first = true;
  for (const auto& [state, count] : status.events_by_state) {
    if (!first) json += ",";
    first = false;
    json += Quoted(state) + ":" + std::to_string(count);
  }
  json += "}";
  json += ",\"oldest_pending_received_ms\":" +
          (status.oldest_pending_received_ms ? std::to_string(*status.oldest_pending_received_ms)
                                             : std::string("null"));

  json += ",\"last_hour\":[";
  for (size_t i = 0; i < status.last_hour.size(); ++i) {
    const MinuteAttempts& minute = status.last_hour[i];
    if (i > 0) json += ",";
    json += "{\"minute_start_ms\":" + std::to_string(minute.minute_start_ms) +
            ",\"delivered\":" + std::to_string(minute.delivered) +
            ",\"failed\":" + std::to_string(minute.failed) +
            ",\"retried\":" + std::to_string(minute.retried) + "}";
  }
  json += "]";

  json += ",\"latest_failures\":[";
  for (size_t i = 0; i < status.latest_failures.size(); ++i) {
    const FailureSummary& failure = status.latest_failures[i];
    if (i > 0) json += ",";
    json += "{\"id\":" + std::to_string(failure.id) + ",\"event\":" + Quoted(failure.event) +
            ",\"email\":" + Quoted(failure.email) +
            ",\"failed_at_ms\":" + std::to_string(failure.failed_at_ms) + ",\"http_status\":" +
            (failure.http_status ? std::to_string(*failure.http_status) : std::string("null")) +
            ",\"reason\":" + Quoted(failure.reason) + "}";
  }
  json += "]}";
  return json;
}

const std::string& StatusPageHtml() {
  static const std::string kHtml = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>intercom-worker status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 62em;
         padding: 0 1em; color: #1d2530; background: #fafbfc; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; }
  h2 { font-size: 1.1em; margin: 1.6em 0 .5em; }
  .meta { color: #5b6673; font-size: .9em; }
  .banner { padding: .6em .9em; border-radius: 4px; margin: 1em 0; font-weight: 600; }
  .running { background: #e3f5e8; color: #17622f; }
  .paused { background: #fde8e8; color: #8a1c1c; }
  .error { background: #fff4d6; color: #6b4d00; }
  .hidden { display: none; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e3e7ec; }
  th { font-weight: 600; color: #5b6673; }
  td.number { text-align: right; font-variant-numeric: tabular-nums; }
  #depth { width: auto; min-width: 20em; }
  #chart { background: #fff; border: 1px solid #e3e7ec; display: block; width: 100%; }
  .legend span { display: inline-block; margin-right: 1.2em; }
  .swatch { display: inline-block; width: .8em; height: .8em; margin-right: .3em;
            vertical-align: -.05em; }
  .reason { word-break: break-word; }
</style>
</head>
<body>
<h1>intercom-worker</h1>
<div class="meta">Worker <span id="worker-id">-</span>, version <span id="version">-</span>.
  Updated <span id="updated">never</span>; refreshes every 5 seconds.</div>
<div id="fetch-error" class="banner error hidden"></div>
<div id="pause-state" class="banner">Loading...</div>

<h2>Queue</h2>
<table id="depth">
  <thead><tr><th>State</th><th>Events</th></tr></thead>
  <tbody>
    <tr><td>pending</td><td class="number" id="depth-pending">-</td></tr>
    <tr><td>leased</td><td class="number" id="depth-leased">-</td></tr>
    <tr><td>delivered</td><td class="number" id="depth-delivered">-</td></tr>
    <tr><td>skipped</td><td class="number" id="depth-skipped">-</td></tr>
    <tr><td>failed</td><td class="number" id="depth-failed">-</td></tr>
    <tr><td>oldest pending</td><td class="number" id="oldest-pending">-</td></tr>
  </tbody>
</table>

<h2>Delivery rate: requests to Intercom per minute, last hour</h2>
<div class="meta legend">
  <span><span class="swatch" style="background:#2f9e52"></span>delivered:
    <b id="delivered-last-hour">-</b></span>
  <span><span class="swatch" style="background:#e0a000"></span>to retry:
    <b id="retried-last-hour">-</b></span>
  <span><span class="swatch" style="background:#c93636"></span>failed:
    <b id="failed-last-hour">-</b></span>
</div>
<svg id="chart" viewBox="0 0 720 200" role="img"
     aria-label="Requests to Intercom per minute over the last hour"></svg>

<h2>Latest failures</h2>
<table id="failures">
  <thead><tr><th>Event id</th><th>Event</th><th>Email</th><th>Failed at (UTC)</th>
    <th>HTTP</th><th>Reason</th></tr></thead>
  <tbody></tbody>
</table>
<p id="no-failures" class="meta hidden">No failed events.</p>

<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";

function setText(id, text) { document.getElementById(id).textContent = String(text); }

function formatTime(ms) { return new Date(ms).toISOString().replace("T", " ").slice(0, 19); }

function formatAge(seconds) {
  if (seconds < 120) return seconds + " s";
  if (seconds < 7200) return Math.floor(seconds / 60) + " min";
  if (seconds < 172800) return Math.floor(seconds / 3600) + " h";
  return Math.floor(seconds / 86400) + " d";
}

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

// Draws one stacked bar per minute: delivered at the bottom, then retried, then failed.
function drawChart(minutes) {
  const chart = document.getElementById("chart");
  while (chart.firstChild) chart.removeChild(chart.firstChild);
  const left = 40, top = 10, width = 670, height = 160;
  let max = 1;
  for (const m of minutes) max = Math.max(max, m.delivered + m.retried + m.failed);
  const step = width / Math.max(minutes.length, 1);

  chart.appendChild(svgElement("line", {x1: left, y1: top + height, x2: left + width,
                                        y2: top + height, stroke: "#9aa5b1"}));
  const maxLabel = svgElement("text", {x: left - 6, y: top + 10, "text-anchor": "end",
                                       "font-size": 11, fill: "#5b6673"});
  maxLabel.textContent = String(max);
  chart.appendChild(maxLabel);
  const zeroLabel = svgElement("text", {x: left - 6, y: top + height, "text-anchor": "end",
                                        "font-size": 11, fill: "#5b6673"});
  zeroLabel.textContent = "0";
  chart.appendChild(zeroLabel);

  minutes.forEach((m, i) => {
    let base = top + height;
    for (const [count, color] of [[m.delivered, "#2f9e52"], [m.retried, "#e0a000"],
                                  [m.failed, "#c93636"]]) {
      if (count <= 0) continue;
      const barHeight = count / max * height;
      base -= barHeight;
      const bar = svgElement("rect", {x: left + i * step + 1, y: base,
                                      width: Math.max(step - 2, 1), height: barHeight,
                                      fill: color});
      const title = svgElement("title", {});
      title.textContent = formatTime(m.minute_start_ms).slice(11, 16) + " UTC: " +
          m.delivered + " delivered, " + m.retried + " to retry, " + m.failed + " failed";
      bar.appendChild(title);
      chart.appendChild(bar);
    }
  });

  for (const [label, x, anchor] of [["60 min ago", left, "start"],
                                    ["now", left + width, "end"]]) {
    const text = svgElement("text", {x: x, y: top + height + 18, "text-anchor": anchor,
                                     "font-size": 11, fill: "#5b6673"});
    text.textContent = label;
    chart.appendChild(text);
  }
}

function render(status) {
  setText("worker-id", status.worker_id);
  setText("version", status.version);
  setText("updated", formatTime(status.read_at_ms) + " UTC");

  const pause = document.getElementById("pause-state");
  pause.className = "banner " + (status.paused ? "paused" : "running");
  pause.textContent = status.paused ? "Paused: " + status.pause_cause : "Delivering";
  pause.dataset.paused = String(status.paused);

  for (const state of ["pending", "leased", "delivered", "skipped", "failed"]) {
    setText("depth-" + state, status.events_by_state[state] || 0);
  }
  setText("oldest-pending", status.oldest_pending_received_ms === null ? "none" :
          formatAge(Math.max(0, Math.round((status.read_at_ms -
                                            status.oldest_pending_received_ms) / 1000))));

  let delivered = 0, retried = 0, failed = 0;
  for (const m of status.last_hour) {
    delivered += m.delivered;
    retried += m.retried;
    failed += m.failed;
  }
  setText("delivered-last-hour", delivered);
  setText("retried-last-hour", retried);
  setText("failed-last-hour", failed);
  drawChart(status.last_hour);

  const body = document.querySelector("#failures tbody");
  while (body.firstChild) body.removeChild(body.firstChild);
  for (const failure of status.latest_failures) {
    const row = document.createElement("tr");
    row.dataset.eventId = String(failure.id);
    const cells = [failure.id, failure.event, failure.email, formatTime(failure.failed_at_ms),
                   failure.http_status === null ? "-" : failure.http_status, failure.reason];
    cells.forEach((value, i) => {
      const cell = document.createElement("td");
      cell.textContent = String(value);
      if (i === 5) cell.className = "reason";
      row.appendChild(cell);
    });
    body.appendChild(row);
  }
  document.getElementById("no-failures").classList.toggle(
      "hidden", status.latest_failures.length > 0);
}

async function refresh() {
  const banner = document.getElementById("fetch-error");
  try {
    const response = await fetch("status.json", {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
    banner.classList.add("hidden");
  } catch (error) {
    banner.textContent = "Cannot read status.json: " + error.message +
        ". Is intercom-worker running? Showing the last values read.";
    banner.classList.remove("hidden");
  } finally {
    document.body.dataset.refreshed = String(Date.now());
  }
}

refresh();
setInterval(refresh, 5000);
</script>
</body>
</html>
)html";
  return kHtml;
}

}  // namespace connector
