// The reports page: figures, charts and tables for a period, refreshed as tickets change.
"use strict";

const $ = (id) => document.getElementById(id);
const token = sessionStorage.getItem("portalToken");
const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const charts = {};
const REASONS = {
  handoff_request: "Asked for a person",
  frustration: "Frustration",
  repeated_question: "Answer did not help",
  account_action: "Account action",
  low_confidence: "No confident answer",
  assistant_cannot_help: "Assistant could not help",
  assistant_unavailable: "Assistant unavailable",
};
const COLOURS = ["#0f766e", "#dc2626", "#d97706", "#2563eb", "#7c3aed", "#64748b", "#db2777", "#059669"];

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function refuse(message, withLink) {
  $("report").hidden = true;
  const box = $("refused");
  box.replaceChildren(el("p", "", message));
  if (withLink) {
    const link = el("a", "", "Open the portal to log in");
    link.href = "/portal";
    box.append(link);
  }
  box.hidden = false;
}

function query() {
  return `period=${encodeURIComponent($("period").value)}&tz=${encodeURIComponent(timeZone)}`;
}

async function fetchReport(path) {
  const response = await fetch(`${path}?${query()}`, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  if (response.status === 401) {
    sessionStorage.removeItem("portalToken");
    refuse("Your login has ended. Log in to the portal again to see reports.", true);
    return null;
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({ error: `the server answered ${response.status}` }));
    if (response.status === 503 && !$("report").hidden) $("updated").textContent = body.error;  // keep the last figures
    else refuse(body.error, response.status === 403);
    return null;
  }
  return response;
}

function fillTable(table, headings, rows) {
  const head = el("tr");
  headings.forEach(([label, numeric]) => head.append(el("th", numeric ? "number" : "", label)));
  const body = rows.map((cells) => {
    const row = el("tr");
    cells.forEach((cell, index) => row.append(el("td", headings[index][1] ? "number" : "", String(cell))));
    return row;
  });
  if (!rows.length) {
    const row = el("tr");
    const cell = el("td", "", "Nothing in this period.");
    cell.colSpan = headings.length;
    row.append(cell);
    body.push(row);
  }
  table.replaceChildren(head, ...body);
}

function counts(table, label, tally, names) {
  fillTable($(table), [[label, false], ["Escalations", true]], Object.entries(tally).map(([key, n]) => [names ? names[key] || key : key, n]));
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart($(id), config);
}

function render(report) {
  $("refused").hidden = true;
  $("report").hidden = false;
  $("figure-conversations").textContent = report.conversations;
  $("figure-contained").textContent = report.contained;
  $("figure-containment").textContent =
    report.containment_rate === null ? "" : `${Math.round(report.containment_rate * 100)}% containment`;
  $("figure-escalations").textContent = report.escalations;
  $("figure-wait").textContent = `${duration(report.wait.p50)} / ${duration(report.wait.p90)}`;
  $("figure-first-response").textContent = `${duration(report.first_response.p50)} / ${duration(report.first_response.p90)}`;
  $("figure-handle").textContent = duration(report.handle.p50);
  $("figure-csat").textContent = report.csat.average === null ? "–" : `${report.csat.average.toFixed(2)} / 5`;
  $("figure-csat-count").textContent = `${report.csat.count} rating${report.csat.count === 1 ? "" : "s"}`;
  $("figure-left").textContent = `${report.outcomes.withdrawn} / ${report.outcomes.abandoned}`;

  const reasons = [...new Set(report.days.flatMap((day) => Object.keys(day.by_reason)))];
  draw("chart-escalations", {
    type: "bar",
    data: {
      labels: report.days.map((day) => day.day),
      datasets: reasons.map((reason, index) => ({
        label: REASONS[reason] || reason,
        data: report.days.map((day) => day.by_reason[reason] || 0),
        backgroundColor: COLOURS[index % COLOURS.length],
      })),
    },
    options: { animation: false, maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
  draw("chart-waits", {
    type: "bar",
    data: { labels: report.wait_histogram.map((bar) => bar.label), datasets: [{ label: "Customers", data: report.wait_histogram.map((bar) => bar.count), backgroundColor: "#0f766e" }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  draw("chart-csat", {
    type: "bar",
    data: { labels: ["1", "2", "3", "4", "5"], datasets: [{ label: "Ratings", data: ["1", "2", "3", "4", "5"].map((score) => report.csat.distribution[score]), backgroundColor: "#d97706" }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });

  counts("table-reason", "Reason", report.by_reason, REASONS);
  counts("table-skill", "Skill", report.by_skill);
  counts("table-language", "Language", report.by_language);
  fillTable(
    $("table-agents"),
    [["Agent", false], ["Conversations", true], ["Resolved", true], ["First response (p50)", true], ["CSAT", true]],
    report.agents.map((agent) => [
      agent.agent, agent.held, agent.resolved, duration(agent.first_response_p50),
      agent.csat_average === null ? "–" : `${agent.csat_average.toFixed(2)} (${agent.csat_count})`,
    ]),
  );
  fillTable(
    $("table-csat-reason"),
    [["Reason", false], ["CSAT", true]],
    Object.entries(report.csat.by_reason).map(([reason, average]) => [REASONS[reason] || reason, average.toFixed(2)]),
  );
  fillTable(
    $("table-days"),
    [["Day", false], ["Conversations", true], ["Escalations", true], ["Wait p50", true], ["Wait p90", true], ["First response p50", true], ["Handle p50", true]],
    report.days.map((day) => [day.day, day.conversations, day.escalations, duration(day.wait_p50), duration(day.wait_p90), duration(day.first_response_p50), duration(day.handle_p50)]),
  );
  $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

let loading = null;
let again = false;
async function load() {
  if (loading) { again = true; return loading; }  // one request at a time; the latest change is not lost
  loading = (async () => {
    const response = await fetchReport("/portal/reports/data");
    if (response) render(await response.json());
  })();
  try { await loading; } finally { loading = null; }
  if (again) { again = false; await load(); }
}

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(load, 300);  // a burst of ticket events is one refresh
}

$("period").addEventListener("change", load);
$("download").addEventListener("click", async () => {
  const response = await fetchReport("/portal/reports/data.csv");
  if (!response) return;
  const link = el("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = (response.headers.get("Content-Disposition") || "").match(/filename="(.+)"/)?.[1] || "escalations.csv";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
});

if (!token) {
  refuse("Log in to the portal as a supervisor to see reports.", true);
} else {
  load();
  // Live: every change to a ticket reaches supervisors over the portal's socket; the figures follow.
  const socket = io({ path: "/portal/socket.io", auth: { token }, transports: ["websocket"] });
  socket.on("connect", () => { $("live").textContent = "live"; refreshSoon(); });
  socket.on("disconnect", () => { $("live").textContent = "reconnecting…"; });
  ["escalation_request", "ticket_updated", "customer_presence", "agent_message"].forEach((event) => socket.on(event, refreshSoon));
}
