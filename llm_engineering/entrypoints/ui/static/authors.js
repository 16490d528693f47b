// Authors and links: the warehouse's authors (paginated, documents per category on click), a form that
// starts the crawl + feature pipelines for new links, and the runs it started (polled).
"use strict";

const PAGE_SIZE = 20;
let page = 1;
let total = 0;
const tokenRequired = document.body.dataset.tokenRequired === "true";

function countCell(author, category) {
  const cell = el("td");
  const count = (author.counts || {})[category] || 0;
  if (!count) { cell.textContent = "0"; return cell; }
  const button = el("button", String(count), { type: "button", class: "link", "aria-label": `${count} ${category} of ${author.full_name}` });
  button.addEventListener("click", () => showDocuments(author, category));
  cell.append(button);
  return cell;
}

async function loadAuthors() {
  const body = await getJSON(`/ui/api/authors?page=${page}&size=${PAGE_SIZE}`);
  total = body.total;
  const rows = document.querySelector("#authors tbody");
  rows.replaceChildren();
  for (const author of body.authors) {
    const row = el("tr");
    row.append(el("th", author.full_name, { scope: "row" }));
    for (const category of ["articles", "posts", "repositories"]) row.append(countCell(author, category));
    rows.append(row);
  }
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  document.getElementById("page").textContent = `Page ${page} of ${pages} (${total} authors)`;
  document.getElementById("prev").disabled = page <= 1;
  document.getElementById("next").disabled = page >= pages;
}

async function showDocuments(author, category) {
  const section = document.getElementById("documents");
  const list = document.getElementById("document-list");
  document.getElementById("documents-heading").textContent = `${author.full_name}: ${category}`;
  list.replaceChildren();
  section.hidden = false;
  try {
    const body = await getJSON(`/ui/api/authors/${encodeURIComponent(author.id)}/documents?category=${category}&size=100`);
    for (const document_ of body.documents) {
      const item = el("li");
      item.append(safeLink(document_.link || "", document_.title || document_.link || document_.id));
      item.append(el("span", ` (${document_.platform})`, { class: "muted" }));
      list.append(item);
    }
    if (body.total > body.documents.length) list.append(el("li", `… and ${body.total - body.documents.length} more`, { class: "muted" }));
  } catch (error) {
    list.append(el("li", error.message, { class: "error" }));
  }
}

// The crawl's outcome counts (metadata `summary` of the crawl step); "" for other runs.
function crawlCounts(summary) {
  if (!summary || summary.tried === undefined) return "";
  const counts = [`${summary.succeeded} crawled`, `${summary.skipped_already_crawled || 0} already stored`];
  if (summary.skipped_low_content) counts.push(`${summary.skipped_low_content} skipped (mostly links or boilerplate)`);
  counts.push(`${summary.failed} failed`);
  return ` (${summary.tried} links: ${counts.join(", ")})`;
}

function runCell(job) {
  const cell = el("td");
  for (const run of job.runs || []) {
    const line = el("div");
    if (run.dashboard_url) line.append(safeLink(run.dashboard_url, `${run.pipeline}`));
    else line.append(el("span", run.pipeline));
    line.append(el("span", ` ${run.status}${crawlCounts(run.summary)}`, { class: "muted" }));
    cell.append(line);
  }
  return cell;
}

let polling = null;
async function loadJobs() {
  const body = await getJSON("/ui/api/jobs");
  const rows = document.querySelector("#jobs tbody");
  rows.replaceChildren();
  for (const job of body.jobs) {
    const row = el("tr", null, { "data-status": job.status });
    row.append(el("td", job.author_full_name));
    const statusCell = el("td", job.status, { class: job.status === "failed" ? "error" : job.status === "succeeded" ? "ok" : "" });
    if (job.error) statusCell.append(el("div", job.error, { class: "error" }));
    row.append(statusCell);
    row.append(el("td", job.stage || ""));
    row.append(runCell(job));
    row.append(el("td", formatTime(job.created_at)));
    rows.append(row);
  }
  document.getElementById("jobs-empty").hidden = body.jobs.length > 0;
  const active = body.jobs.some((job) => job.status === "queued" || job.status === "running");
  if (active && !polling) polling = setInterval(refresh, 2000);
  if (!active && polling) { clearInterval(polling); polling = null; await loadAuthors(); }
}

async function refresh() {
  try { await loadJobs(); } catch (error) { /* next poll retries */ }
}

async function addLinks(event) {
  event.preventDefault();
  const form = event.target;
  const status = document.getElementById("add-status");
  const links = form.elements.links.value.split(/\s+/).map((link) => link.trim()).filter(Boolean);
  const headers = tokenRequired ? { "X-Twin-Token": form.elements.token.value } : {};
  status.className = "";
  status.textContent = "Starting…";
  try {
    await postJSON("/ui/api/links", { author_full_name: form.elements.author_full_name.value, links }, headers);
    status.textContent = "Crawl started: follow it below.";
    form.elements.links.value = "";
    await loadJobs();
  } catch (error) {
    status.textContent = error.message;
    status.className = "error";
  }
}

document.getElementById("add-links").addEventListener("submit", addLinks);
document.getElementById("prev").addEventListener("click", () => { page -= 1; loadAuthors(); });
document.getElementById("next").addEventListener("click", () => { page += 1; loadAuthors(); });
loadAuthors().catch((error) => { document.getElementById("page").textContent = error.message; });
refresh();
