// Shared helpers. Everything shown from the server is set as text (textContent), never as HTML: crawled
// pages and model output are untrusted.
"use strict";

function el(tag, text, attributes) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

// Only http(s) links become clickable; anything else (javascript:, data:) is shown as text.
function safeLink(href, text) {
  try {
    const url = new URL(href, window.location.href);
    if (url.protocol === "http:" || url.protocol === "https:") {
      return el("a", text || url.href, { href: url.href, rel: "noopener noreferrer", target: "_blank" });
    }
  } catch (error) { /* not a URL: fall through */ }
  return el("span", text || href);
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(describeError(response.status, body));
  return body;
}

async function postJSON(url, payload, extraHeaders) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...(extraHeaders || {}) },
    body: JSON.stringify(payload),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(describeError(response.status, body));
  return body;
}

function describeError(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) return `${status}: ` + detail.map((item) => `${(item.loc || []).slice(-1)[0]}: ${item.msg}`).join("; ");
  return `${status}: ${detail || "request failed"}`;
}

function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}
