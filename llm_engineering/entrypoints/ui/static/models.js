// Models: the LLM answering now, the registered twin versions and the latest evaluation report.
"use strict";

function pair(list, name, value) {
  list.append(el("dt", name));
  list.append(el("dd", value === undefined || value === null ? "—" : value));
}

function lossText(loss) {
  if (!loss || typeof loss !== "object") return "—";
  return Object.entries(loss).map(([stage, value]) => `${stage} ${typeof value === "number" ? value.toFixed(3) : value}`).join(", ");
}

async function load() {
  const body = await getJSON("/ui/api/models");
  const llm = document.getElementById("llm");
  llm.replaceChildren();
  pair(llm, "Provider", body.llm.provider);
  pair(llm, "Model", body.llm.model_id);
  pair(llm, "Endpoint", body.llm.endpoint);
  const rows = document.querySelector("#registered tbody");
  rows.replaceChildren();
  for (const version of body.registered) {
    const row = el("tr");
    row.append(el("th", version.spec, { scope: "row" }));
    row.append(el("td", formatTime(version.created_at)));
    row.append(el("td", (version.stages || []).join(", ")));
    row.append(el("td", lossText(version.heldout_loss)));
    row.append(el("td", version.production ? "yes" : ""));
    rows.append(row);
  }
  document.getElementById("registered-empty").hidden = body.registered.length > 0;
  const report = body.evaluation_report;
  if (report) {
    const box = document.getElementById("evaluation");
    box.replaceChildren(el("p", `Report: ${report.path}`, { class: "muted" }));
    const table = el("table");
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
    box.append(table);
  }
}

load().catch((error) => { document.getElementById("llm").replaceChildren(el("dd", error.message, { class: "error" })); });
