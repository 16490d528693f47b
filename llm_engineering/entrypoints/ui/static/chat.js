// Chat: POST /rag/stream (server-sent events: sources, token, done, error), read with fetch + a stream
// reader so the answer grows token by token; the final `done` text replaces the streamed one.
// The streamed tokens are the model's unchecked draft (marked so); `done.authorship` says who wrote the
// answer: the model, or the author's quoted sentences (the rejected draft then stays behind a toggle).
// Stop (the button, or Escape) aborts the request while it runs: the API then cancels the generation behind
// it, and the answer is marked as stopped by the reader (neither an error nor the model's answer).
"use strict";

const form = document.getElementById("ask");
const button = document.getElementById("ask-button");
const stopButton = document.getElementById("stop-button");
const status = document.getElementById("status");
const result = document.getElementById("result");
const answer = document.getElementById("answer");
const sources = document.getElementById("sources");
const path = document.getElementById("path");
const rating = document.getElementById("rating");
const ratingStatus = document.getElementById("rating-status");
const mark = document.getElementById("authorship");
const draft = document.getElementById("draft");
const draftText = document.getElementById("draft-text");
let traceId = null;
let modelAsked = "";
let lastQuery = "";
let streaming = null; // the AbortController of the answer being written; null when none is

function numberField(name) {
  const value = form.elements[name].value;
  return value === "" ? undefined : Number(value);
}

function showSources(items) {
  // Each source shows the number the API gives it: the [n] that cites it in the answer (never the list's own index).
  sources.replaceChildren();
  for (const source of items || []) {
    const item = el("li", null, { "data-number": source.number });
    item.append(el("span", `[${source.number}] `, { class: "source-number" }));
    item.append(safeLink(source.link || "", source.link || source.document_id));
    const score = typeof source.score === "number" ? source.score.toFixed(3) : source.score;
    item.append(el("span", ` — ${source.author}, ${source.category} (${source.platform}), score ${score}`, { class: "muted" }));
    // Copies of one article at other addresses (cross-posts) are one source.
    const others = (source.links || []).filter((link) => link !== source.link);
    if (others.length) {
      item.append(el("span", " · also at ", { class: "muted" }));
      others.forEach((link, index) => {
        if (index) item.append(el("span", ", ", { class: "muted" }));
        item.append(safeLink(link, link));
      });
    }
    sources.append(item);
  }
  if (!sources.children.length) sources.append(el("li", "No passage was found.", { class: "muted" }));
}

function describePath(retrieval) {
  // Which retrieval path ran: self-query, query expansion, search mode and reranker (or their fallbacks).
  const paths = (retrieval && retrieval.paths) || {};
  const parts = Object.entries(paths).map(([name, value]) => `${name.replace("_", " ")}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
  return parts.length ? `Retrieval: ${parts.join(" · ")}` : "";
}

function showMark(kind, badge, detail) {
  // One line above the answer: a badge saying who wrote it, then why in plain words (always as text).
  mark.replaceChildren(el("strong", badge, { class: "badge" }));
  if (detail) mark.append(el("span", ` ${detail}`));
  mark.dataset.writtenBy = kind;
  mark.className = `authorship ${kind}`;
  mark.hidden = false;
}

function showAuthorship(authorship, streamed) {
  // Who wrote the final answer; a rejected draft stays readable (as text) behind the toggle.
  answer.classList.remove("draft");
  if (!authorship) {
    mark.hidden = true;
    return;
  }
  const model = authorship.model || modelAsked || "the model";
  if (authorship.written_by === "author_passages") {
    showMark("author_passages", "Quoted from the author's sources", `— ${model}'s reply was rejected: ${authorship.reason || "it did not pass the answer check."}`);
    draftText.textContent = streamed;
    draft.open = false;
    draft.hidden = !streamed;
  } else {
    showMark("model", `Written by ${model}`, authorship.reason ? `— flagged: ${authorship.reason}` : "");
  }
}

function showStopped() {
  // Stopped by the reader: not an error, and not an answer. Text streamed so far stays, as the unchecked draft it is.
  const model = modelAsked || "the model";
  const partial = answer.textContent.trim() !== "";
  showMark("stopped", "Stopped by you", partial ? `— ${model}'s unchecked draft so far; not an answer.` : `— before ${model} wrote anything.`);
  answer.classList.toggle("draft", partial);
  status.className = "";
  status.textContent = "Stopped.";
}

function stop() {
  // The Stop button or Escape: abort the request; the API sees its client leave and cancels the generation.
  if (streaming) streaming.abort();
}

function endStreaming() {
  // Nothing left to stop: hide Stop (moving the focus it may hold back to the question) and allow a new question.
  streaming = null;
  const hadFocus = document.activeElement === stopButton;
  stopButton.hidden = true;
  button.disabled = false;
  if (hadFocus) form.elements.query.focus();
}

function handleEvent(name, data) {
  if (name === "sources") {
    showSources(data.sources);
    path.textContent = describePath(data.retrieval);
    status.textContent = "Writing…";
    modelAsked = data.model || "";
    // Until the guard has checked it, the streamed reply is a draft, not the answer.
    showMark("draft", `Draft from ${modelAsked || "the model"}, checking…`, "The answer may still be replaced by the author's own sentences.");
    answer.classList.add("draft");
  } else if (name === "token") {
    answer.textContent += data.text;
  } else if (name === "done") {
    const streamed = answer.textContent;
    answer.textContent = data.answer;
    showAuthorship(data.authorship, streamed);
    showSources(data.sources);
    const metadata = data.metadata || {};
    path.textContent = describePath(metadata.retrieval) + (metadata.generation ? ` · model: ${metadata.generation.model_id}` : "");
    traceId = metadata.trace_id || null;
    rating.hidden = false;
    status.textContent = "Done.";
    endStreaming();
  } else if (name === "error") {
    if (!mark.hidden) showMark("draft", `Unchecked draft from ${modelAsked || "the model"}`, "— the request failed before the reply was checked.");
    status.textContent = `Error ${data.status}: ${data.detail}`;
    status.className = "error";
    endStreaming();
  }
}

async function ask(event) {
  event.preventDefault();
  if (streaming) return; // one answer at a time
  const controller = new AbortController();
  streaming = controller;
  lastQuery = form.elements.query.value;
  const payload = { query: lastQuery, k: numberField("k"), temperature: numberField("temperature"), max_new_tokens: numberField("max_new_tokens") };
  button.disabled = true;
  stopButton.hidden = false;
  status.className = "";
  status.textContent = "Searching the author's writing…";
  answer.textContent = "";
  answer.classList.remove("draft");
  mark.hidden = true;
  mark.replaceChildren();
  draft.hidden = true;
  draft.open = false;
  draftText.textContent = "";
  modelAsked = "";
  sources.replaceChildren();
  path.textContent = "";
  rating.hidden = true;
  ratingStatus.textContent = "";
  result.hidden = false;
  try {
    const response = await fetch("/rag/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(payload),
      signal: controller.signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(describeError(response.status, body));
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let boundary;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        let name = "message";
        const lines = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) lines.push(line.slice(5).trimStart());
        }
        if (lines.length) handleEvent(name, JSON.parse(lines.join("\n")));
      }
    }
  } catch (error) {
    if (controller.signal.aborted) {
      showStopped();
    } else {
      status.textContent = error.message;
      status.className = "error";
    }
  } finally {
    if (streaming === controller) endStreaming();
  }
}

async function rate(score) {
  ratingStatus.textContent = "";
  const local = () => {
    const stored = JSON.parse(localStorage.getItem("twin-ratings") || "[]");
    stored.push({ query: lastQuery, answer: answer.textContent, score, at: new Date().toISOString() });
    localStorage.setItem("twin-ratings", JSON.stringify(stored.slice(-200)));
  };
  if (!traceId) {
    local();
    ratingStatus.textContent = "Thanks: saved in this browser (prompt monitoring is off).";
    return;
  }
  try {
    const body = await postJSON("/feedback", { trace_id: traceId, score });
    if (!body.recorded) local();
    ratingStatus.textContent = body.recorded ? "Thanks: recorded on the answer's trace." : "Thanks: saved in this browser (prompt monitoring is off).";
  } catch (error) {
    ratingStatus.textContent = error.message;
    ratingStatus.className = "error";
  }
}

form.addEventListener("submit", ask);
stopButton.addEventListener("click", stop);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && streaming) {
    event.preventDefault();
    stop();
  }
});
form.elements.query.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
});
for (const control of rating.querySelectorAll("button")) control.addEventListener("click", () => rate(Number(control.dataset.score)));
