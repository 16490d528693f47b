// Models: the LLM answering now (the served model, and why), the registered twin versions with their
// "Serve this version" / "Mark production" buttons, and the latest evaluation report.
"use strict";

const modelsTokenRequired = document.body.dataset.tokenRequired === "true";

function pair(list, name, value) {
  list.append(el("dt", name));
  list.append(el("dd", value === undefined || value === null || value === "" ? "—" : value));
}

// One line per held-out loss ("instruct_sft 3.100"): a column of short lines reads better than one long one.
function lossCell(loss) {
  const cell = el("td", null, { class: "loss" });
  if (!loss || typeof loss !== "object" || !Object.keys(loss).length) {
    cell.textContent = "—";
    return cell;
  }
  for (const [stage, value] of Object.entries(loss)) {
    cell.append(el("div", `${stage} ${typeof value === "number" ? value.toFixed(3) : value}`));
  }
  return cell;
}

function badge(text, kind) {
  return el("span", text, { class: `badge ${kind}` });
}

function writeHeaders() {
  const input = document.getElementById("token");
  return modelsTokenRequired && input ? { "X-Twin-Token": input.value } : {};
}

function setButtons(disabled) {
  for (const button of document.querySelectorAll("#registered button")) {
    button.disabled = disabled || button.dataset.done === "true";
  }
}

// The server's reason without the HTTP status ("422: No model ..." -> "No model ...").
function plainWords(message) {
  return String(message || "").replace(/^\d{3}: /, "");
}

async function act(kind, spec) {
  const status = document.getElementById("switch-status");
  const doing = kind === "serve" ? `Switching the served model to ${spec}…` : `Marking ${spec} as production…`;
  status.className = "muted";
  status.textContent = doing;
  setButtons(true);
  try {
    const body = await postJSON(`/ui/api/models/${kind}`, { model: spec }, writeHeaders());
    status.className = "ok";
    status.textContent = body.message;
  } catch (error) {
    status.className = "error";
    const what = kind === "serve" ? `${spec} was not served` : `${spec} was not marked production`;
    status.textContent = `${what}: ${plainWords(error.message)}`;
  }
  try {
    await load();
  } finally {
    setButtons(false);
  }
}

function actionButton(text, kind, spec, done) {
  const button = el("button", text, { type: "button", "data-action": kind, "data-spec": spec });
  button.dataset.done = done ? "true" : "false";
  button.disabled = done;
  button.addEventListener("click", () => act(kind, spec));
  return button;
}

function versionRow(version) {
  const row = el("tr", null, { "data-spec": version.spec, "data-served": version.served ? "true" : "false" });
  if (version.served) row.classList.add("served");
  row.append(el("th", version.spec, { scope: "row", class: "spec" }));
  row.append(el("td", formatTime(version.created_at)));
  row.append(el("td", (version.stages || []).join(", ") || "—"));
  row.append(lossCell(version.heldout_loss));
  const status = el("td", null, { class: "status" });
  if (version.served) status.append(badge("serving", "serving"));
  if (version.production) status.append(badge("production", "production"));
  row.append(status);
  const actions = el("td", null, { class: "actions" });
  actions.append(actionButton("Serve this version", "serve", version.spec, version.served));
  actions.append(actionButton("Mark production", "promote", version.spec, version.production));
  row.append(actions);
  return row;
}

function baseRow(served) {
  const isServed = served.model_id === served.base_model_id;
  const row = el("tr", null, { "data-spec": served.base_spec, "data-served": isServed ? "true" : "false" });
  if (isServed) row.classList.add("served");
  row.append(el("th", served.base_spec, { scope: "row", class: "spec" }));
  row.append(el("td", "packaged Gemma 3 270M", { class: "muted" }));
  row.append(el("td", "—"));
  row.append(el("td", "—"));
  const status = el("td", null, { class: "status" });
  if (isServed) status.append(badge("serving", "serving"));
  row.append(status);
  const actions = el("td", null, { class: "actions" });
  actions.append(actionButton("Serve this version", "serve", served.base_spec, isServed));
  row.append(actions);
  return row;
}

function showAnswering(body) {
  const llm = document.getElementById("llm");
  llm.replaceChildren();
  pair(llm, "Provider", body.llm.provider);
  pair(llm, "Model", body.llm.model_id);
  const served = body.served;
  if (served) {
    let why = served.why;
    if (served.source === "recorded") why += `${served.by ? ` by ${served.by}` : ""} ${formatTime(served.chosen_at)}`;
    if (served.reason) why += ` (${served.reason})`;
    pair(llm, "Why", why);
  }
  pair(llm, "Endpoint", body.llm.endpoint);
  document.getElementById("llm-heading").dataset.modelId = body.llm.model_id;
  const note = document.getElementById("served-note");
  note.hidden = !(served && served.overridden);
  if (served && served.overridden) {
    note.textContent = `LLM_MODEL_ID=${served.model_id} is set in the service's environment, so the API asks ` +
      `${served.model_id} whatever is served here; the local engine's served model is ${served.local.model_id}. ` +
      "Set LLM_MODEL_ID=auto (or remove it) and restart the API to follow the choice made here.";
  }
}

function showEvaluation(report) {
  if (!report) return;
  const box = document.getElementById("evaluation");
  box.replaceChildren(el("p", `Report: ${report.path}`, { class: "muted" }));
  const table = el("table", null, { class: "models-table" });
  const head = el("tr");
  head.append(el("th", "model", { scope: "col" }));
  const models = Object.entries(report.models || {});
  const metrics = [...new Set(models.flatMap(([, values]) => Object.keys(values || {})))];
  for (const metric of metrics) head.append(el("th", metric, { scope: "col" }));
  table.append(head);
  for (const [name, values] of models) {
    const row = el("tr");
    row.append(el("th", name, { scope: "row" }));
    for (const metric of metrics) {
      const value = (values || {})[metric];
      row.append(el("td", typeof value === "number" ? value.toFixed(3) : value === undefined ? "—" : JSON.stringify(value)));
    }
    table.append(row);
  }
  const scroll = el("div", null, { class: "table-scroll" });
  scroll.append(table);
  box.append(scroll);
}

async function load() {
  const body = await getJSON("/ui/api/models");
  showAnswering(body);
  const rows = document.querySelector("#registered tbody");
  rows.replaceChildren();
  for (const version of body.registered) rows.append(versionRow(version));
  if (body.served) rows.append(baseRow(body.served));
  document.getElementById("registered-empty").hidden = body.registered.length > 0;
  showEvaluation(body.evaluation_report);
  document.body.dataset.modelsLoaded = "true";
}

load().catch((error) => { document.getElementById("llm").replaceChildren(el("dd", error.message, { class: "error" })); });
