// The live view: polls /api/registrations and /api/calls each second and
// follows /api/events (Server-Sent Events, read through fetch so the bearer
// token can ride along). Every value from the switch is put in with
// textContent, never as HTML: numbers, user agents and details are input the
// switch got from the network.
"use strict";

const POLL_MS = 1000;
const MAX_EVENTS = 200;

// A token given as #token=... stays in this tab (the fragment never leaves the browser).
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) {
  sessionStorage.setItem("switch-token", fromHash);
  history.replaceState(null, "", location.pathname);
}
const token = sessionStorage.getItem("switch-token");
const headers = token ? { Authorization: "Bearer " + token } : {};

const $ = (id) => document.getElementById(id);

function status(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = "status " + (cls || "");
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "-" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function fill(tbody, rows, emptyText, columns) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = cell(tr, emptyText);
    td.colSpan = columns;
    tbody.appendChild(tr);
  }
  for (const tr of rows) tbody.appendChild(tr);
}

function ipOf(addr) {
  // "198.51.100.7:5060" or "[2001:db8::1]:5060" -> the IP.
  const m = /^\[?([^\]]+?)\]?:\d+$/.exec(addr || "");
  return m ? m[1] : addr;
}

function registrationRow(r) {
  const tr = document.createElement("tr");
  tr.dataset.number = r.number;
  cell(tr, r.number, "number");
  cell(tr, r.state, "state state-" + r.state);
  cell(tr, r.observed === undefined ? null : r.behind_nat ? "yes" : "no", "nat");
  cell(tr, r.public_ip, "public-ip");
  cell(tr, r.observed, "observed");
  cell(tr, r.transport, "transport");
  cell(tr, r.time_left === undefined ? null : r.time_left + " s", "time-left num");
  cell(tr, r.node, "node");
  const observedIp = ipOf(r.observed);
  if (r.public_ip && observedIp && r.public_ip !== observedIp) {
    tr.title = "claims " + r.public_ip + ", seen from " + observedIp;
  }
  return tr;
}

const lastPackets = new Map();

function legPackets(m) {
  return m ? m.packets_in + " / " + m.packets_out : "-";
}

function callRow(c) {
  const tr = document.createElement("tr");
  tr.dataset.callId = c.call_id;
  cell(tr, c.caller, "caller");
  cell(tr, c.callee, "callee");
  cell(tr, c.route_reason ? c.route + " (" + c.route_reason + ")" : c.route, "route");
  cell(tr, new Date(c.invite_at).toLocaleTimeString(), "since");
  const caller = cell(tr, legPackets(c.caller_media), "caller-packets num");
  const callee = cell(tr, legPackets(c.callee_media), "callee-packets num");
  const bytes = (c.caller_media ? c.caller_media.bytes_in : 0) + (c.callee_media ? c.callee_media.bytes_in : 0);
  cell(tr, bytes, "bytes num");
  const total = (c.caller_media ? c.caller_media.packets_in : 0) + (c.callee_media ? c.callee_media.packets_in : 0);
  tr.dataset.packets = String(total);
  if (lastPackets.has(c.call_id) && lastPackets.get(c.call_id) !== total) {
    caller.classList.add("moved");
    callee.classList.add("moved");
  }
  lastPackets.set(c.call_id, total);
  return tr;
}

async function getJson(path) {
  const r = await fetch(path, { headers, cache: "no-store" });
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

async function poll() {
  try {
    const [regs, calls] = await Promise.all([getJson("/api/registrations"), getJson("/api/calls")]);
    fill($("reg-rows"), regs.map(registrationRow), "no registrations", 8);
    $("reg-count").textContent = "(" + regs.length + ")";
    fill($("call-rows"), calls.active.map(callRow), "no calls", 7);
    $("call-count").textContent = "(" + calls.active.length + ")";
  } catch (e) {
    status("cannot read the switch: " + e.message, "down");
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function showEvent(e) {
  const li = document.createElement("li");
  li.className = "event kind-" + e.kind;
  li.dataset.kind = e.kind;
  li.dataset.number = e.number;
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = new Date(e.at).toLocaleTimeString();
  const kind = document.createElement("span");
  kind.className = "kind";
  kind.textContent = e.kind.replace(/_/g, " ");
  const number = document.createElement("span");
  number.className = "number";
  number.textContent = e.number;
  const detail = document.createElement("span");
  detail.className = "detail";
  detail.textContent = e.detail;
  li.append(time, kind, number, detail);
  const list = $("event-list");
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

// One SSE block ("event: x\ndata: y\n\n") -> its event name and data.
function parseBlock(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return { name, data: data.join("\n") };
}

async function follow() {
  for (;;) {
    try {
      const r = await fetch("/api/events", { headers, cache: "no-store" });
      if (!r.ok || !r.body) throw new Error("events: " + r.status);
      status("live", "live");
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n/g, "\n");
        let end;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          const { name, data } = parseBlock(buf.slice(0, end));
          buf = buf.slice(end + 2);
          if (name === "roaming") showEvent(JSON.parse(data));
        }
      }
    } catch (e) {
      status("event stream lost: " + e.message + " (retrying)", "down");
    }
    $("event-list").replaceChildren(); // the backlog comes again on reconnect
    await new Promise((ok) => setTimeout(ok, 2000));
  }
}

poll();
follow();
