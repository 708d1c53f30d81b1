// The page of `fennec serve`: choose a task (a dropped folder, a zip or a stored task), see the ranking, enter
// tried results and get the next picks. Plain JS over the service's JSON API; nothing to build.
//
// Results are rendered generically: the table's columns are the union of the fields of the rows the API returns
// (`ranking` of /recommend, `picks` of /next), the fields a person reads first leading (model, predicted value,
// interval, expected gain, confidence), the rest in the order they first appear; every other top-level field is
// listed above the table. A field the library adds to Recommendation.to_json() shows up without a change here.
// Two fields get a sentence of their own: the ranking's confidence (`confidence` of /recommend: the chance that the
// best model is among the top k, the expected regret) and next's `advice` (or, without one, the best pick's gain).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { files: null, zip: null, taskName: null };

// ------------------------------------------------------------------------------------------------ the API
async function api(path, options = {}) {
  const reply = await fetch(path, options);
  const text = await reply.text();
  let body;
  try { body = text ? JSON.parse(text) : {}; } catch { body = { error: text || reply.statusText }; }
  if (!reply.ok) {
    const error = new Error(body.error || `HTTP ${reply.status}`);
    error.hint = body.hint;
    error.status = reply.status;
    throw error;
  }
  return body;
}

function showError(error) {
  const box = $("error");
  box.textContent = `${error.status ? error.status + ": " : ""}${error.message}` + (error.hint ? `\nhint: ${error.hint}` : "");
  box.hidden = false;
}

async function busy(button, work) {
  $("error").hidden = true;
  button.disabled = true;
  $("busy").hidden = false;
  try { await work(); } catch (error) { showError(error); } finally { button.disabled = false; $("busy").hidden = true; }
}

// ------------------------------------------------------------------------------------------------ rendering
function format(value, decimals = !Number.isInteger(value)) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return decimals ? value.toFixed(4) : String(value);
  if (Array.isArray(value)) return "[" + value.map((v) => format(v)).join(", ") + "]";
  // an object field (an interval as {low, high}...) reads as "low 0.7000, high 0.9000"
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k} ${format(v)}`).join(", ");
  return String(value);
}

const LEADING = ["model", "predicted", "interval", "expected_gain", "confidence"];
const TITLES = {
  predicted: "expected value in the task's units",
  interval: "where the value should fall, at each nominal coverage (split-conformal, from held-out tasks)",
  expected_gain: "what one try of the model is expected to add over the best result tried so far",
  confidence: "the chance the model is among the task's true best three",
  score: "the space's score (the ranking's order)",
};

function columns(rows) {
  const seen = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!seen.includes(key)) seen.push(key);
  return [...LEADING.filter((k) => seen.includes(k)), ...seen.filter((k) => !LEADING.includes(k))];
}

const percent = (p) => `${Math.round(100 * p)}%`;

// "the best model is among the top 1 / 3 / 5 with 73% / 91% / 100%; expected regret ...; units from ..."
function confidenceSentence(summary) {
  if (!summary || !summary.p_best_in_top) return "";
  const ks = Object.keys(summary.p_best_in_top);
  const regret = summary.expected_regret || {};
  let text = `The best model is among the top ${ks.join(" / ")} with a chance of ` +
    ks.map((k) => percent(summary.p_best_in_top[k])).join(" / ");
  if (Object.keys(regret).length) text += `; expected regret ${ks.map((k) => format(regret[k], true)).join(" / ")}`;
  if (summary.units_from) text += ` (values in the task's units, from ${summary.units_from})`;
  return text + ".";
}

function adviceSentence(result) {
  if (result.advice) return `Advice: ${result.advice}.`;
  const gains = (result.picks || []).map((p) => p.expected_gain).filter((g) => typeof g === "number" && Number.isFinite(g));
  if (!gains.length) return "";
  const best = Math.max(...Object.values(result.tried || {}));
  return `The best pick is expected to add ${format(Math.max(...gains), true)} over the best tried result (${format(best)}).`;
}

function renderTable(table, rows) {
  const keys = columns(rows);
  // a column with any fractional number shows all its numbers with the same decimals (JSON's 0.0 arrives as 0)
  const fractional = Object.fromEntries(keys.map((k) => [k, rows.some((r) => typeof r[k] === "number" && !Number.isInteger(r[k]))]));
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const key of ["rank", ...keys]) head.appendChild(Object.assign(document.createElement("th"), { textContent: key, title: TITLES[key] || "" }));
  const body = table.createTBody();
  rows.forEach((row, i) => {
    const tr = body.insertRow();
    [["rank", i + 1], ...keys.map((k) => [k, row[k]])].forEach(([key, value]) => {
      const td = tr.insertCell();
      td.textContent = format(value, Boolean(fractional[key]));
      if (typeof value === "number") td.className = "num";
    });
  });
}

function renderMeta(list, result, skip) {
  list.replaceChildren();
  for (const [key, value] of Object.entries(result)) {
    if (skip.includes(key)) continue;
    list.appendChild(Object.assign(document.createElement("dt"), { textContent: key }));
    const dd = document.createElement("dd");
    const short = value !== null && typeof value === "object" && JSON.stringify(value).length <= 80;
    if (value !== null && typeof value === "object" && !short) {
      const details = document.createElement("details");
      details.appendChild(Object.assign(document.createElement("summary"), { textContent: summary(value) }));
      details.appendChild(Object.assign(document.createElement("pre"), { textContent: JSON.stringify(value, null, 2) }));
      dd.appendChild(details);
    } else {
      dd.textContent = value === null ? "none" : short ? JSON.stringify(value) : format(value);
    }
    list.appendChild(dd);
  }
}

function summary(value) {
  const n = Array.isArray(value) ? value.length : Object.keys(value).length;
  return n ? `${n} ${Array.isArray(value) ? "item" : "field"}${n > 1 ? "s" : ""}` : "empty";
}

function renderWarnings(result) {
  $("warnings").replaceChildren(...(result.warnings || []).map((w) => Object.assign(document.createElement("li"), { textContent: w })));
}

// ------------------------------------------------------------------------------------------------ the task
function taskForm(extra) {
  const form = new FormData();
  if (state.zip) form.append("files", state.zip, state.zip.name);
  else for (const { file, path } of state.files) form.append("files", file, path);
  const name = $("name").value.trim();
  if (name) form.append("name", name);
  for (const [key, value] of Object.entries(extra)) form.append(key, typeof value === "object" ? JSON.stringify(value) : String(value));
  return { method: "POST", body: form };
}

function taskJson(extra) {
  const task = $("stored").value;
  if (!task) throw Object.assign(new Error("Choose a task first: drop a folder of images, or pick a stored task."), { status: 0 });
  return { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ task, ...extra }) };
}

function request(extra) {
  return state.files || state.zip ? taskForm(extra) : taskJson(extra);
}

function chooseFiles(files, label) {
  state.files = files.length ? files : null;
  state.zip = null;
  $("stored").value = "";
  const classes = new Set(files.map(({ path }) => path.split("/").slice(-2, -1)[0]));
  $("dropped").textContent = files.length ? `${label}: ${files.length} files in ${classes.size} class folder(s)` : "no folder chosen";
}

async function droppedFiles(items) {
  const files = [];
  async function walk(entry) {
    if (entry.isFile) {
      const file = await new Promise((ok, fail) => entry.file(ok, fail));
      files.push({ file, path: entry.fullPath.replace(/^\//, "") });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (let batch = await readBatch(reader); batch.length; batch = await readBatch(reader)) {
        for (const child of batch) await walk(child);
      }
    }
  }
  const entries = [...items].map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
  for (const entry of entries) await walk(entry);
  return files;
}

const readBatch = (reader) => new Promise((ok, fail) => reader.readEntries(ok, fail));

// ------------------------------------------------------------------------------------------------ actions
async function recommend() {
  const extra = { k: Number($("k").value) || 10, explain: $("explain").checked, plot: true };
  const result = await api("/recommend", request(extra));
  state.taskName = result.task;
  renderMeta($("meta"), result, ["ranking", "plot", "warnings", "confidence"]);
  $("summary").textContent = confidenceSentence(result.confidence);
  renderTable($("ranking"), result.ranking || []);
  if (result.plot) $("plot").src = result.plot; else $("plot").removeAttribute("src");
  renderWarnings(result);
  $("result-section").hidden = false;
  $("next-section").hidden = false;
}

function triedResults() {
  const tried = {};
  $("tried").value.split("\n").map((l) => l.trim()).filter(Boolean).forEach((line, i) => {
    const [model, value] = line.split(/[,\t;]\s*|\s+/);
    if (!model || value === undefined || Number.isNaN(Number(value))) {
      throw Object.assign(new Error(`Line ${i + 1} of the tried results is not 'model, value': ${line}`), { status: 0 });
    }
    tried[model] = Number(value);
  });
  return tried;
}

async function nextPicks() {
  const result = await api("/next", request({ tried: triedResults(), k: Number($("next-k").value) || 3 }));
  renderMeta($("next-meta"), result, ["picks", "warnings", "advice"]);
  $("advice").textContent = adviceSentence(result);
  $("advice").classList.toggle("stop", Boolean(result.advice));
  renderTable($("picks"), result.picks || []);
}

async function record() {
  const tried = triedResults();
  const task = state.taskName;
  if (!task || !Object.keys(tried).length) throw Object.assign(new Error("Recommend for a task and enter results first."), { status: 0 });
  sessionStorage.setItem("fennec-token", $("token").value);
  const records = Object.entries(tried).map(([model, value]) => ({ model, task, value }));
  const result = await api("/history", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${$("token").value}` },
    body: JSON.stringify({ records, source: "web page" }),
  });
  $("recorded").textContent = `Recorded ${result.added} result(s) for ${task}; the history holds ${result.records} records.`;
  refreshStatus();
}

async function refreshStatus() {
  try {
    const health = await api("/health");
    const job = health.training;
    const training = job ? ` · training job ${job.id}: ${job.status}${job.version ? " → " + job.version : ""}` : "";
    $("status").textContent = `${health.workspace} · version ${health.active_version || "none (train first)"} · ${health.records} records${training}`;
  } catch (error) {
    $("status").textContent = `service unreachable (${error.message})`;
  }
}

async function loadTasks() {
  const { tasks } = await api("/tasks");
  const select = $("stored");
  for (const task of tasks) {
    const size = task.n_classes ? ` (${task.n_classes} classes)` : "";
    select.appendChild(Object.assign(document.createElement("option"), { value: task.name, textContent: task.name + size }));
  }
}

// ------------------------------------------------------------------------------------------------ wiring
document.addEventListener("DOMContentLoaded", () => {
  $("token").value = sessionStorage.getItem("fennec-token") || "";
  $("folder").addEventListener("change", (e) => chooseFiles([...e.target.files].map((file) => ({ file, path: file.webkitRelativePath || file.name })), "chosen"));
  $("zip").addEventListener("change", (e) => {
    state.zip = e.target.files[0] || null;
    state.files = null;
    $("dropped").textContent = state.zip ? `zip: ${state.zip.name}` : "no folder chosen";
  });
  $("stored").addEventListener("change", () => {
    if ($("stored").value) { state.files = null; state.zip = null; $("dropped").textContent = "no folder chosen"; }
  });
  const zone = $("dropzone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    chooseFiles(await droppedFiles(e.dataTransfer.items), "dropped");
  });
  $("recommend").addEventListener("click", (e) => busy(e.target, recommend));
  $("next").addEventListener("click", (e) => busy(e.target, nextPicks));
  $("record").addEventListener("click", (e) => busy(e.target, record));
  refreshStatus();
  loadTasks().catch(showError);
  setInterval(refreshStatus, 5000);
});
