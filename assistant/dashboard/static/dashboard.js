// teamclaw dashboard: reads the JSON API and draws the page; the usage chart is inline SVG (no libraries).
"use strict";

const COLORS = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#b45309"];
let usage = null;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell === null || cell === undefined ? "" : String(cell);
    tr.appendChild(td);
  }
  return tr;
}

function when(iso) {
  if (!iso) return "never";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function fill(id, rows, empty) {
  const body = document.getElementById(id);
  body.replaceChildren(...rows);
  if (!rows.length) body.appendChild(row([empty]));
}

function renderHealth(h) {
  document.getElementById("version").textContent = "v" + h.version;
  document.getElementById("now").textContent = when(h.now) + " (" + h.timezone + ")";
  const channels = Object.entries(h.channels).map(([name, c]) =>
    row([name, el("span", c.connected ? "connected" : "disconnected", c.connected ? "ok" : "bad"), when(c.last_event_at)]));
  fill("channels", channels, h.status_error || "no channel reported");
  const queue = document.getElementById("queue");
  queue.replaceChildren(...Object.entries(h.queue).map(([k, v]) => {
    const div = el("div"); div.appendChild(el("b", v)); div.appendChild(el("span", k.replace(/_/g, " "), "muted")); return div;
  }));
  document.getElementById("processes-section").hidden = !h.processes;
  if (h.processes) fill("processes", h.processes.map((p) => row([
    p.host + ":" + p.pid, el("span", p.alive ? "yes" : "no (leases expire)", p.alive ? "ok" : "bad"),
    when(p.heartbeat_at), p.receivers.join(", "), p.singletons.join(", "), p.lanes,
  ])), "no process reported");
  fill("models", h.models.map((m) => row([
    m.model, m.location || "",
    m.reachable === undefined ? el("span", "unknown", "muted") : el("span", m.reachable ? "yes" : "no", m.reachable ? "ok" : "bad"),
    m.calls || 0, m.failures || 0,
    m.latency_ms !== undefined ? m.latency_ms + " ms" : (m.mean_latency_ms ? m.mean_latency_ms + " ms" : ""),
  ])), "no models");
  return h;
}

function renderMembers(data, health) {
  const active = {};
  for (const s of health.subagents || []) active[s.member_id] = s;
  fill("members", data.members.map((m) => {
    const live = active[m.id];
    const last = live && live.last_activity_at ? live.last_activity_at : m.last_activity_at;
    return row([m.name, m.role, m.identities.join(", "), when(last) + (live && live.running ? " (working)" : "")]);
  }), "no members yet");
  const select = document.getElementById("memory-member");
  const chosen = select.value;
  select.replaceChildren(...data.members.map((m) => { const o = el("option", m.name); o.value = m.id; return o; }));
  if (chosen && data.members.some((m) => String(m.id) === chosen)) select.value = chosen;
}

function renderJobs(data) {
  if (!data.available) { fill("jobs", [], "the scheduler is not installed"); return; }
  fill("jobs", data.jobs.map((j) => {
    let action = "";
    if (data.can_pause && (j.state || "active") === "active") {
      action = el("button", "Pause");
      action.addEventListener("click", async () => {
        try { await api("api/jobs/" + encodeURIComponent(j.id) + "/pause", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }); }
        catch (e) { showError(e); }
        load();
      });
    }
    return row([(j.kind ? j.kind + " #" : "#") + j.id, j.owner_name || j.member_id || "",
      j.description || j.trigger_type || "", when(j.next_run_at), j.state || "active", action]);
  }), "no scheduled jobs");
}

function drawChart() {
  if (!usage) return;
  const split = document.getElementById("split").value;
  const measure = document.getElementById("measure").value;
  const value = (r) => measure === "cost" ? r.cost : r.tokens_in + r.tokens_out;
  const series = [...new Set(usage.rows.map((r) => r[split]))].sort();
  const perDay = usage.days.map((day) => {
    const parts = {};
    for (const r of usage.rows) if (r.day === day) parts[r[split]] = (parts[r[split]] || 0) + value(r);
    return parts;
  });
  const max = Math.max(1e-9, ...perDay.map((p) => Object.values(p).reduce((a, b) => a + b, 0)));
  const W = 800, H = 240, pad = 28, barW = (W - pad) / usage.days.length;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  let bars = 0;
  perDay.forEach((parts, i) => {
    let y = H - pad;
    series.forEach((name, s) => {
      const v = parts[name] || 0;
      if (!v) return;
      const h = (v / max) * (H - 2 * pad);
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", pad + i * barW + 2); rect.setAttribute("width", Math.max(1, barW - 4));
      rect.setAttribute("y", y - h); rect.setAttribute("height", h);
      rect.setAttribute("fill", COLORS[s % COLORS.length]);
      rect.setAttribute("data-day", usage.days[i]); rect.setAttribute("data-series", name);
      const title = document.createElementNS(ns, "title");
      title.textContent = `${usage.days[i]} ${name}: ${measure === "cost" ? v.toFixed(4) : v}`;
      rect.appendChild(title); svg.appendChild(rect);
      y -= h; bars += 1;
    });
    if (i % Math.ceil(usage.days.length / 10) === 0) {
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", pad + i * barW + 2); label.setAttribute("y", H - 8); label.setAttribute("font-size", "11");
      label.textContent = usage.days[i].slice(5); svg.appendChild(label);
    }
  });
  const top = document.createElementNS(ns, "text");
  top.setAttribute("x", 2); top.setAttribute("y", 14); top.setAttribute("font-size", "11");
  top.textContent = measure === "cost" ? max.toFixed(2) : String(Math.round(max));
  svg.appendChild(top);
  document.getElementById("chart").replaceChildren(svg);
  document.getElementById("legend").replaceChildren(...series.map((name, s) => {
    const span = el("span", name); const dot = el("i"); dot.style.background = COLORS[s % COLORS.length]; span.prepend(dot); return span;
  }));
  document.getElementById("usage-summary").textContent =
    `${usage.days.length} days, ${usage.rows.length ? series.length : 0} ${split}s, total cost ${usage.total_cost.toFixed(4)}, ${usage.total_tokens} tokens`;
  document.body.dataset.chartBars = String(bars);
}

async function loadMemory() {
  const member = document.getElementById("memory-member").value;
  if (!member) { fill("memory", [], "no members yet"); return; }
  const q = document.getElementById("memory-query").value;
  const data = await api("api/memory?member=" + encodeURIComponent(member) + (q ? "&q=" + encodeURIComponent(q) : ""));
  if (!data.available) { fill("memory", [], "memory is disabled"); return; }
  fill("memory", data.items.map((m) => {
    let action = "";
    if (data.can_forget && m.id !== undefined) {
      action = el("button", "Forget");
      action.addEventListener("click", async () => {
        if (!confirm("Forget this memory?")) return;
        try {
          await api("api/memory/forget", { method: "POST", headers: { "content-type": "application/json" },
            body: JSON.stringify({ member: Number(member), id: m.id }) });
        } catch (e) { showError(e); }
        loadMemory();
      });
    }
    return row([m.text, [m.kind, m.visibility].filter(Boolean).join(" · "), when(m.said_at || m.created_at), action]);
  }), "nothing remembered");
}

function showError(e) { document.getElementById("error").textContent = String(e.message || e); }

async function load() {
  try {
    const [health, members, jobs, usageData] = await Promise.all(
      [api("api/health"), api("api/members"), api("api/jobs"), api("api/usage")]);
    renderHealth(health);
    renderMembers(members, health);
    renderJobs(jobs);
    usage = usageData;
    drawChart();
    await loadMemory();
    document.body.dataset.ready = "1";
  } catch (e) {
    showError(e);
  }
}

document.getElementById("split").addEventListener("change", drawChart);
document.getElementById("measure").addEventListener("change", drawChart);
document.getElementById("memory-search").addEventListener("click", () => loadMemory().catch(showError));
load();
setInterval(load, 30000);
