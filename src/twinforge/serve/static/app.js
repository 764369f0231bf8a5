// twinforge web UI: plain JavaScript, no build step.
// Every piece of data from the server goes into the page as text (textContent / text nodes), never as HTML:
// conversation titles and messages are the user's archive and may contain anything, markup included. The one
// exception is markdown the server rendered and sanitised (serve/markdown_render.py: raw HTML off, then an
// allow-list of tags), which richText() puts in; [n] citations are then linked by walking its text nodes.
"use strict";

const view = () => document.getElementById("view");

// --- tiny DOM helpers -------------------------------------------------------------------------------------------

// el("a", {href: "#/x", class: "c", onclick: fn}, "text", child) — strings become text nodes, nothing is parsed.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function show(...children) {
  const v = view();
  v.replaceChildren();
  append(v, children);
  window.scrollTo(0, 0);
}

function hash(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== null && v !== undefined) query.set(k, v);
  const q = query.toString();
  return "#" + path + (q ? "?" + q : "");
}

const convLink = (cid, mid) => hash("/c/" + encodeURIComponent(cid), mid ? {m: mid} : {});
const moduleLink = (id) => hash("/m/" + encodeURIComponent(id));
const date = (iso) => (iso ? String(iso).slice(0, 10) : "");
const badge = (text, kind) => el("span", {class: "badge " + (kind || "")}, text);
const num = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "");

async function api(path) {
  const r = await fetch(path, {credentials: "same-origin", headers: {Accept: "application/json"}});
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new Error((body && body.error && body.error.message) || r.status + " " + r.statusText);
  return body;
}

// Server-rendered, sanitised markdown (see the header) as a node; `sources` turns [n] into citation links.
// The one HTML sink of the UI. A <template> parses without running scripts or loading anything, and the tree is
// checked again here against the server's allow-list, so a sanitiser slip still cannot add a handler or a tag.
const RICH_TAGS = new Set(["P", "BR", "HR", "H1", "H2", "H3", "H4", "H5", "H6", "STRONG", "EM", "S", "DEL", "CODE", "PRE",
  "BLOCKQUOTE", "UL", "OL", "LI", "A", "TABLE", "THEAD", "TBODY", "TR", "TH", "TD"]);
const RICH_ATTRS = new Set(["href", "title", "start", "class", "rel"]);

function richText(html, sources, cls) {
  const node = el("div", {class: "text md" + (cls ? " " + cls : "")});
  const t = document.createElement("template");
  t.innerHTML = html;
  for (const e of Array.from(t.content.querySelectorAll("*"))) {
    if (!RICH_TAGS.has(e.tagName)) { e.replaceWith(document.createTextNode(e.textContent)); continue; }
    for (const a of Array.from(e.attributes)) {
      if (!RICH_ATTRS.has(a.name) || (a.name === "href" && !/^(https?:|mailto:|#)/i.test(a.value))) e.removeAttribute(a.name);
    }
  }
  node.appendChild(t.content);
  if (sources && sources.length) linkCitations(node, sources);
  return node;
}

async function renderMarkdown(text) {
  const r = await fetch("/api/markdown", {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", Accept: "application/json"}, body: JSON.stringify({text: text})});
  if (!r.ok) throw new Error(r.status + " " + r.statusText);
  return (await r.json()).html;
}

function linkCitations(root, sources) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.parentElement.closest("a, code, pre") && /\[\d+\]/.test(n.nodeValue)) texts.push(n);
  }
  for (const n of texts) n.replaceWith(...citedText(n.nodeValue, sources).map((x) => (x instanceof Node ? x : document.createTextNode(x))));
}

function failed(err) {
  show(el("p", {class: "error"}, "Error: " + err.message));
}

// --- chat -------------------------------------------------------------------------------------------------------

const chat = {history: [], models: null, examples: null};  // kept while the page lives, so leaving the chat keeps it

// The answer's [n] markers become links to the cited conversation, scrolled to the cited message.
function citedText(text, sources) {
  const byN = new Map((sources || []).map((s) => [s.n, s]));
  const out = [];
  let last = 0;
  const re = /\[(\d+)\]/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    const s = byN.get(Number(m[1]));
    if (!s) continue;
    out.push(text.slice(last, m.index));
    out.push(el("a", {class: "cite", href: convLink(s.conversation_id, s.message_id),
                      title: s.title + (s.date ? ", " + s.date : "")}, "[" + m[1] + "]"));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

const SOURCE_KINDS = {message: "message", module: "thinking module", paper: "paper digest"};

function sourceList(sources) {
  if (!sources || !sources.length) return null;
  return el("div", {class: "sources-box"},
    el("div", {class: "sources-head"}, "Drawn from " + sources.length + (sources.length === 1 ? " source" : " sources") + ", best match first"),
    el("ol", {class: "sources"}, sources.map((s) => el("li", {value: s.n},
      el("a", {class: "source-link", href: convLink(s.conversation_id, s.message_id)}, "«" + s.title + "»"),
      " ", el("span", {class: "muted", title: "retrieval score " + Number(s.score).toFixed(3) +
        ": keyword and meaning search fused by rank; only the order matters"},
        [SOURCE_KINDS[s.kind] || s.kind, date(s.date)].filter(Boolean).join(" · ")),
      el("div", {class: "snippet"}, s.preview || s.snippet)))));
}

const citesAny = (turn) => (turn.sources || []).some((s) => turn.content.includes("[" + s.n + "]"));

function turnNode(turn) {
  if (turn.role === "user") return el("div", {class: "turn user"}, el("div", {class: "who"}, "You"), el("div", {class: "text"}, turn.content));
  let body;
  if (turn.done && turn.html !== undefined) body = richText(turn.html, turn.sources);
  else body = el("div", {class: "text"}, turn.done ? citedText(turn.content, turn.sources) : turn.content);
  const hint = turn.done && !turn.error && citesAny(turn) ? el("p", {class: "hint muted"}, "The numbers in brackets, like [1], open the message they cite.") : null;
  return el("div", {class: "turn twin" + (turn.error ? " failed" : "")},
    el("div", {class: "who"}, "Twin", turn.model ? el("span", {class: "muted"}, " · " + turn.model + (turn.evidenceOnly ? ", evidence only" : "")) : null),
    body, hint, turn.error ? el("p", {class: "error"}, turn.error) : null, turn.done ? sourceList(turn.sources) : null);
}

async function renderChat() {
  if (!chat.models) {
    try { chat.models = (await api("/v1/models")).data.map((m) => m.id); } catch (e) { chat.models = ["twin"]; }
  }
  if (!chat.examples) {
    try { chat.examples = (await api("/api/examples")).items; } catch (e) { chat.examples = []; }
  }
  const log = el("div", {id: "chat-log"}, chat.history.map(turnNode));
  const input = el("textarea", {id: "question", rows: 3, placeholder: "Ask your twin… (Ctrl+Enter to send)"});
  const model = el("select", {id: "model"}, chat.models.map((m) => el("option", {value: m}, m)));
  const evidence = el("input", {type: "checkbox", id: "evidence-only"});
  const send = el("button", {type: "submit", id: "ask"}, "Ask");
  const form = el("form", {id: "chat-form", onsubmit: (e) => { e.preventDefault(); ask(input, model.value, evidence.checked, log, send); }},
    input, el("div", {class: "row"}, el("label", {}, "Model ", model),
      el("label", {title: "show the passages memory finds, without asking a model"}, evidence, " evidence only (no model)"), send));
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit(); });
  const examples = !chat.history.length && chat.examples.length ? el("div", {id: "examples"},
    el("p", {class: "muted"}, "Try one of these:"),
    chat.examples.map((q) => el("button", {type: "button", class: "example", onclick: () => {
      input.value = q; form.requestSubmit(); }}, q))) : null;
  show(el("h1", {}, "Chat with your twin"),
    el("p", {class: "muted"}, "Answers come from your own conversations; the messages each answer draws on are listed under it."),
    log, examples, form);
  input.focus();
}

async function ask(input, model, evidenceOnly, log, send) {
  const question = input.value.trim();
  if (!question) return;
  input.value = "";
  send.disabled = true;
  const examples = document.getElementById("examples");
  if (examples) examples.remove();
  const user = {role: "user", content: question};
  chat.history.push(user);
  log.appendChild(turnNode(user));
  const turn = {role: "assistant", content: "", sources: [], model: model, evidenceOnly: evidenceOnly, done: false};
  chat.history.push(turn);
  let node = turnNode(turn);
  log.appendChild(node);
  const text = node.querySelector(".text");
  const messages = chat.history.filter((t) => !t.error && t !== turn).map((t) => ({role: t.role, content: t.content}));
  try {
    const r = await fetch("/v1/chat/completions", {
      method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({model: model, messages: messages, stream: true,
                            twinforge: {footer: false, no_llm: evidenceOnly || null}}),
    });
    if (!r.ok) {
      let msg = r.status + " " + r.statusText;
      try { msg = (await r.json()).error.message; } catch (e) { /* keep the status */ }
      throw new Error(msg);
    }
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.twinforge) turn.sources = chunk.twinforge.sources;
          const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
          if (delta && delta.content) {
            turn.content += delta.content;
            text.textContent = turn.content;
          }
        }
      }
    }
  } catch (err) {
    turn.error = err.message;
  }
  if (turn.content && !turn.error) {
    try { turn.html = await renderMarkdown(turn.content); } catch (e) { /* shown as plain text */ }
  }
  turn.done = true;
  const fresh = turnNode(turn);
  log.replaceChild(fresh, node);
  node = fresh;
  send.disabled = false;
  node.scrollIntoView({block: "nearest"});
}

// --- conversations ----------------------------------------------------------------------------------------------

async function renderConversations(params) {
  const q = params.get("q") || "";
  const label = params.get("label") || "all";
  const offset = Number(params.get("offset") || 0);
  const data = await api("/api/conversations?" + new URLSearchParams({q: q, label: label, offset: offset, limit: 50}));
  const search = el("input", {type: "search", name: "q", value: q, placeholder: "title or id"});
  const pick = el("select", {name: "label"}, ["all", "substance", "chatter"].map((l) =>
    el("option", {value: l, selected: l === label}, l)));
  const form = el("form", {class: "filters", onsubmit: (e) => {
    e.preventDefault();
    location.hash = hash("/conversations", {q: search.value.trim(), label: pick.value});
  }}, search, pick, el("button", {type: "submit"}, "Filter"));
  const rows = data.items.map((c) => el("tr", {},
    el("td", {}, el("a", {class: "conv-link", href: convLink(c.id)}, c.title || "(untitled)")),
    el("td", {}, date(c.created_at)), el("td", {}, c.provider),
    el("td", {title: c.explained ? c.explained.summary : ""}, c.label ? badge(c.label, c.label) : ""),
    el("td", {class: "num"}, c.messages), el("td", {class: "num"}, c.kept),
    el("td", {}, c.modules.map((m) => el("a", {href: moduleLink(m)}, "module")))));
  const pager = el("p", {class: "pager"},
    offset > 0 ? el("a", {href: hash("/conversations", {q: q, label: label, offset: Math.max(0, offset - 50)})}, "← newer") : null,
    " " + (data.total ? (offset + 1) + "–" + Math.min(offset + 50, data.total) : 0) + " of " + data.total + " ",
    offset + 50 < data.total ? el("a", {href: hash("/conversations", {q: q, label: label, offset: offset + 50})}, "older →") : null);
  show(el("h1", {}, "Conversations"), form,
    el("table", {id: "conversations"}, el("thead", {}, el("tr", {}, ["title", "date", "source", "clean verdict",
      "messages", "kept", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows)), pager);
}

function messageNode(m) {
  const flags = [];
  if (m.keep === true) flags.push(badge(m.reason === "kept-by-user" ? "kept by you" : "kept", "kept"));
  if (m.keep === false) flags.push(badge("rejected: " + m.reason, "rejected"));
  if (m.keep === null) flags.push(badge("not cleaned", ""));
  if (m.duplicate_of) flags.push(badge("duplicate of " + m.duplicate_of, ""));
  if (m.stripped) flags.push(badge(m.stripped + " boilerplate spans stripped", ""));
  if (m.redacted.length) flags.push(badge("redacted: " + m.redacted.join(", "), ""));
  if (m.kind !== "dialog") flags.push(badge(m.kind, ""));
  return el("article", {class: "msg " + m.role + (m.keep === false ? " rejected" : ""), id: "msg-" + m.id, dataset: {id: m.id}},
    el("div", {class: "msg-head"}, el("strong", {}, m.role), " ", el("span", {class: "muted"},
      [date(m.created_at), m.model, m.language, "id " + m.id].filter(Boolean).join(" · ")), " ", flags),
    m.html ? richText(m.html) : el("div", {class: "text"}, m.text));
}

// The clean verdict: the label, what its score means, and why, folded.
function verdictNode(c) {
  if (!c.label) return null;
  const x = c.explained;
  return el("div", {class: "verdict"}, badge(c.label, c.label), " ",
    x ? el("span", {}, x.summary) : null,
    x && x.details.length ? el("details", {class: "why"}, el("summary", {}, "Why?"),
      el("ul", {}, x.details.map((d) => el("li", {}, d)))) : null);
}

function focusMessage(id) {
  const node = document.getElementById("msg-" + id);
  if (!node) return false;
  for (let p = node.parentElement; p; p = p.parentElement) if (p.tagName === "DETAILS") p.open = true;
  document.querySelectorAll(".msg.highlight").forEach((n) => n.classList.remove("highlight"));
  node.classList.add("highlight");
  node.scrollIntoView({block: "center"});
  return true;
}

async function renderConversation(id, params) {
  const c = await api("/api/conversations/" + encodeURIComponent(id));
  const dialog = c.messages.filter((m) => m.kind === "dialog");
  const canonical = dialog.filter((m) => m.canonical);
  const branches = dialog.filter((m) => !m.canonical);
  const structural = c.messages.filter((m) => m.kind !== "dialog");
  const rejects = c.messages.filter((m) => m.keep === false && m.reason !== "other-branch" && m.kind === "dialog");
  show(
    el("p", {}, el("a", {href: "#/conversations"}, "← conversations")),
    el("h1", {id: "conv-title"}, c.title || "(untitled)"),
    el("p", {class: "muted"}, [c.provider, date(c.created_at), c.id, c.lossy ? "lossy copy" : ""].filter(Boolean).join(" · ")),
    verdictNode(c),
    c.modules.length ? el("p", {}, "Modules: ", c.modules.map((m) => [el("a", {href: moduleLink(m)}, m), " "])) : null,
    rejects.length ? el("section", {id: "rejects"}, el("h2", {}, "Rejected here (" + rejects.length + ")"),
      el("ul", {}, rejects.map((m) => el("li", {}, el("a", {href: "#msg-" + m.id, onclick: (e) => {
        e.preventDefault(); focusMessage(m.id); }}, m.role + " " + m.id), ": " + m.reason)))) : null,
    el("section", {id: "canonical"}, el("h2", {}, "Conversation (" + canonical.length + " messages on the displayed branch)"),
      canonical.map(messageNode)),
    branches.length ? el("details", {id: "branches"}, el("summary", {}, "Other branches (" + branches.length + " edits and regenerations)"),
      branches.map(messageNode)) : null,
    structural.length ? el("details", {id: "structural"}, el("summary", {}, "Hidden, system, tool and reasoning (" + structural.length + ")"),
      structural.map(messageNode)) : null);
  const target = params.get("m");
  if (target && !focusMessage(target)) {
    view().insertBefore(el("p", {class: "error"}, "Message " + target + " is not in this conversation."), view().firstChild);
  }
}

// --- modules, papers --------------------------------------------------------------------------------------------

function moduleCard(m) {
  return el("article", {class: "card module"},
    el("h3", {}, el("a", {href: moduleLink(m.id)}, m.title)),
    el("p", {}, badge(m.meta_move, "move"), " ", quality(m), " ", m.phrase),
    m.flagged ? el("p", {class: "muted flag"}, "Flagged: " + m.flag_reasons.join("; ")) : null,
    m.problem ? el("p", {class: "muted"}, "Problem: " + m.problem) : null,
    el("p", {class: "chips"}, m.concepts.map((c) => el("a", {class: "chip", href: hash("/graph", {c: c})}, c))),
    el("p", {class: "muted"}, "From ", el("a", {href: convLink(m.conversation_id)}, m.conversation_title || m.conversation_id)));
}

// the module's quality score (twinforge modules score); flagged ones are left out of expand
function quality(m) {
  if (m.score === null || m.score === undefined) return null;
  return badge((m.flagged ? "flagged " : "score ") + m.score.toFixed(2), m.flagged ? "rejected" : "kept");
}

async function renderModules(kind) {
  const data = await api("/api/modules?kind=" + kind);
  const paper = kind === "paper";
  const about = paper ? "A digest per paper you ingested (PDF, arXiv): its problem, method, results and what it means for the twin."
    : "A thinking module per substantive conversation: its one-line gist, the move of thought it makes, and the concepts it names.";
  const none = paper ? "No papers ingested: `twinforge ingest paper.pdf`, then `twinforge distill`, add digests here."
    : "No modules yet: `twinforge distill` writes them from the conversations clean kept.";
  show(el("h1", {}, (paper ? "Paper digests" : "Thinking modules") + " (" + data.items.length + ")"),
    el("p", {class: "muted"}, about),
    data.items.length ? data.items.map(moduleCard) : el("p", {class: "muted empty"}, none));
}

function list(title, items) {
  if (!items || !items.length) return null;
  return [el("h2", {}, title), el("ul", {}, items.map((x) => el("li", {}, x)))];
}

async function renderModule(id) {
  const m = await api("/api/modules/" + encodeURIComponent(id));
  const p = m.paper;
  show(el("p", {}, el("a", {href: m.kind === "paper" ? "#/papers" : "#/modules"}, "← " + (m.kind === "paper" ? "papers" : "modules"))),
    el("h1", {}, m.title),
    el("p", {class: "phrase"}, m.phrase),
    el("p", {}, "Meta-move: ", badge(m.meta_move, "move"), " · language " + m.language + " · " + m.backend,
      m.score !== null && m.score !== undefined ? [" · quality ", quality(m)] : null),
    m.flagged ? el("p", {class: "muted flag"}, "Flagged: " + m.flag_reasons.join("; ")) : null,
    el("p", {class: "chips"}, "Concepts: ", m.concepts.map((c) => el("a", {class: "chip", href: hash("/graph", {c: c})}, c))),
    p ? [el("h2", {}, "Paper digest"), el("dl", {},
      el("dt", {}, "Problem"), el("dd", {}, p.problem), el("dt", {}, "Method"), el("dd", {}, p.method),
      el("dt", {}, "Results"), el("dd", {}, el("ul", {}, p.results.map((r) => el("li", {}, r)))),
      el("dt", {}, "Limitations"), el("dd", {}, el("ul", {}, p.limitations.map((r) => el("li", {}, r)))),
      el("dt", {}, "Application to the twin"), el("dd", {}, p.application))] : null,
    list("Axes", m.axes), list("Inversions", m.inversions), list("Hypotheses", m.hypotheses),
    list("Transition rules", m.transition_rules), list("Open questions", m.open_questions),
    m.quotes.length ? [el("h2", {}, "Quotes"), m.quotes.map((q) => el("blockquote", {},
      el("div", {}, q.text), el("a", {href: convLink(m.conversation_id, q.message_id)}, "message " + q.message_id)))] : null,
    el("p", {class: "muted"}, "From ", el("a", {href: convLink(m.conversation_id)}, m.conversation_title || m.conversation_id)));
}

// --- concept graph ----------------------------------------------------------------------------------------------

// community colours: the first ten communities get their own, the rest share grey
const PALETTE = ["#3565c8", "#d0702b", "#2f9a5a", "#b0416b", "#7b57c2", "#1f9aa8", "#a8862a", "#c2453a", "#5d7a2e", "#8a5a44"];
const communityColour = (id) => (id >= 0 && id < PALETTE.length ? PALETTE[id] : "#9aa3ad");

let cytoscapeLoading = null;
function loadCytoscape() {  // the vendored library, fetched only when the graph is first shown
  if (window.cytoscape) return Promise.resolve(window.cytoscape);
  if (!cytoscapeLoading) {
    cytoscapeLoading = new Promise((resolve, reject) => {
      const script = el("script", {src: "/static/vendor/cytoscape.min.js"});
      script.addEventListener("load", () => resolve(window.cytoscape));
      script.addEventListener("error", () => { cytoscapeLoading = null; reject(new Error("could not load the graph library")); });
      document.head.appendChild(script);
    });
  }
  return cytoscapeLoading;
}

async function drawGraph(box, g, byId, selected) {
  const cytoscape = await loadCytoscape();
  const drawn = new Set();
  for (const e of g.drawn.edges) { drawn.add(e.source); drawn.add(e.target); }
  const nodes = g.concepts.slice(0, g.drawn.nodes).map((c) => ({data: {id: c.id, label: c.label, size: 14 + 6 * Math.sqrt(c.modules),
    colour: communityColour(c.community)}}));
  const maxWeight = Math.max(1, ...g.drawn.edges.map((e) => e.weight));
  const edges = g.drawn.edges.map((e, i) => ({data: {id: "e" + i, source: e.source, target: e.target,
    width: 1 + 4 * e.weight / maxWeight}}));
  const cy = cytoscape({
    container: box, elements: nodes.concat(edges), wheelSensitivity: 0.3, minZoom: 0.2, maxZoom: 3,
    style: [
      {selector: "node", style: {"background-color": "data(colour)", width: "data(size)", height: "data(size)",
        label: "data(label)", "font-size": 10, color: "#1d1f23", "text-valign": "bottom", "text-margin-y": 2,
        "text-background-color": "#fafbfc", "text-background-opacity": 0.7, "text-background-padding": 1}},
      {selector: "edge", style: {width: "data(width)", "line-color": "#c5ccd6", "curve-style": "haystack", opacity: 0.7}},
      {selector: "node.on", style: {"border-width": 3, "border-color": "#1d1f23", "font-weight": "bold", "z-index": 10}},
      {selector: "node.near", style: {"border-width": 2, "border-color": "#1d1f23"}},
      {selector: "edge.near", style: {"line-color": "#1d1f23", opacity: 1}},
    ],
    layout: {name: "cose", animate: false, randomize: true, nodeRepulsion: () => 9000, idealEdgeLength: () => 60,
      numIter: 1500, fit: true, padding: 20},
  });
  if (selected && cy.getElementById(selected.id).nonempty()) {
    const node = cy.getElementById(selected.id);
    node.addClass("on");
    node.connectedEdges().addClass("near");
    node.neighborhood("node").addClass("near");
  }
  cy.on("tap", "node", (e) => { location.hash = hash("/graph", {c: e.target.id()}); });
  box.dataset.nodes = String(cy.nodes().length);
  box.dataset.edges = String(cy.edges().length);
  return cy;
}

async function renderGraph(params) {
  const g = await api("/api/graph");
  if (!g.stats.concepts) {
    show(el("h1", {}, "Concept graph"), el("p", {class: "muted"}, "No graph yet: run `twinforge memory build`."));
    return;
  }
  const byId = new Map(g.concepts.map((c) => [c.id, c]));
  const names = new Map(g.communities.map((c) => [c.id, c.name]));
  const wanted = (params.get("c") || "").toLowerCase();
  const selected = byId.get(wanted) || g.concepts.find((c) => c.label.toLowerCase() === wanted) || null;
  const chip = (id) => { const c = byId.get(id); return el("a", {class: "chip" + (selected && selected.id === id ? " on" : ""),
    href: hash("/graph", {c: id}), title: c ? "named by " + c.modules + " modules" : ""}, c ? c.label : id); };
  const panel = selected ? el("section", {id: "concept"},
    el("h2", {}, selected.label),
    el("p", {class: "muted"}, "named by " + selected.modules + (selected.modules === 1 ? " module" : " modules") +
      " · group “" + (names.get(selected.community) || "") + "”"),
    el("h3", {}, "Goes together with"),
    selected.neighbours.length ? el("p", {class: "chips"}, selected.neighbours.map((n) => [chip(n.id),
      el("sub", {title: "named together in " + n.weight + " modules"}, "×" + n.weight), " "]))
      : el("p", {class: "muted"}, "no co-occurring concepts"),
    el("h3", {}, "Modules"), el("ul", {}, selected.module_ids.map((m) => el("li", {}, el("a", {href: moduleLink(m.id)}, m.title || m.id)))))
    : (wanted ? el("p", {class: "muted"}, "No concept “" + wanted + "” in the graph.") : null);
  const box = el("div", {id: "graph-canvas", role: "img", "aria-label": "concept graph"});
  const partial = g.drawn.nodes < g.concepts.length ? " The " + g.drawn.nodes + " most-named concepts are drawn; every concept is listed below." : "";
  show(el("h1", {}, "Concept graph"),
    el("p", {class: "muted"}, g.stats.concepts + " concepts from " + g.stats.modules + " modules, in " + g.stats.communities +
      " groups. Each dot is a concept your thinking modules name (bigger = named more often); a line joins two concepts " +
      "named by the same module; colours are groups of concepts that go together. Click a dot to see its modules." + partial),
    panel, box,
    el("h2", {}, "Groups of concepts"),
    g.communities.map((c) => el("div", {class: "community"},
      el("h3", {}, el("span", {class: "swatch", dataset: {community: String(c.id)}}), c.name,
        el("span", {class: "muted"}, " · " + c.size + (c.size === 1 ? " concept" : " concepts"))),
      el("p", {class: "chips"}, c.concepts.map((id) => [chip(id), " "])))));
  document.querySelectorAll(".swatch").forEach((n) => { n.style.background = communityColour(Number(n.dataset.community)); });
  try { await drawGraph(box, g, byId, selected); } catch (err) { box.replaceWith(el("p", {class: "error"}, "The graph could not be drawn: " + err.message)); }
}

// --- funnel, persona, reports -----------------------------------------------------------------------------------

async function renderFunnel() {
  const f = await api("/api/funnel");
  if (!f.steps.length) { show(el("h1", {}, "Funnel"), el("p", {class: "muted"}, "Nothing cleaned yet: run `twinforge clean`.")); return; }
  const top = Math.max(...f.steps.map((s) => s.pages), 1);
  const bars = f.steps.map((s) => {
    const bar = el("div", {class: "bar"});
    bar.style.width = (100 * s.pages / top).toFixed(1) + "%";
    return el("div", {class: "bar-row"}, el("span", {class: "bar-label"}, s.step), el("div", {class: "bar-track"}, bar),
      el("span", {class: "bar-value"}, num(s.pages) + " pages"));
  });
  show(el("h1", {}, "Clean funnel"), el("div", {class: "bars"}, bars),
    el("table", {id: "funnel"}, el("thead", {}, el("tr", {}, ["step", "conversations", "messages", "characters", "pages", "tokens", "removed by this step"].map((h) => el("th", {}, h)))),
      el("tbody", {}, f.steps.map((s) => el("tr", {}, el("td", {}, s.step), el("td", {class: "num"}, num(s.conversations)),
        el("td", {class: "num"}, num(s.messages)), el("td", {class: "num"}, num(s.characters)), el("td", {class: "num"}, num(s.pages)),
        el("td", {class: "num"}, num(s.tokens)), el("td", {}, s.removed))))),
    el("h2", {}, "Verdicts by reason"),
    el("table", {}, el("tbody", {}, f.reasons.map((r) => el("tr", {}, el("td", {}, r.keep ? badge(r.reason, "kept") : badge(r.reason, "rejected")),
      el("td", {class: "num"}, num(r.messages) + (r.messages === 1 ? " message" : " messages")), el("td", {class: "num"}, num(r.chars) + " chars"))))));
}

async function renderPersona() {
  const p = await api("/api/persona");
  if (!p.exists) { show(el("h1", {}, "Persona card"), el("p", {class: "muted"}, "No card yet: run `twinforge persona`.")); return; }
  show(el("h1", {}, "Persona card"),
    el("p", {class: "muted"}, "Who the twin is told it is, drawn from your own words. Edit persona.md in the workspace; " +
      "`twinforge persona --rebuild` keeps your edits."),
    p.edited.length ? el("p", {}, badge("kept as you edited: " + p.edited.join(", "), "kept")) : null,
    el("article", {id: "persona-md", class: "card persona"}, richText(p.html)),
    el("details", {}, el("summary", {}, "As the twin's system prompt"), el("pre", {class: "markdown"}, p.system_prompt || "")),
    el("details", {}, el("summary", {}, "Source (persona.md, with its section markers)"), el("pre", {class: "markdown"}, p.markdown)));
}

function reportSummary(x) {
  const s = x.summary;
  if (!s) return null;
  const rows = [];
  if (s.models && s.models.length) rows.push(["models", s.models.join(", ")]);
  if (s.probes) rows.push(["probes", String(s.probes)]);
  for (const [k, v] of Object.entries(s.metrics || {})) rows.push([k, v]);
  return rows.length ? el("table", {class: "summary"}, el("tbody", {}, rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))))) : null;
}

async function renderReports() {
  const r = await api("/api/reports");
  show(el("h1", {}, "Eval reports"),
    el("p", {class: "muted"}, "Each `twinforge eval` run compares the base model with the trained adapter on probes from your archive."),
    r.items.length ? el("ul", {id: "reports"}, r.items.map((x) => el("li", {class: "card"},
      el("h3", {}, el("a", {href: hash("/reports/" + encodeURIComponent(x.name))}, x.name)), " ",
      el("span", {class: "muted"}, date(x.modified)), reportSummary(x))))
      : el("p", {class: "muted"}, "No reports yet: run `twinforge eval`."));
}

async function renderReport(name) {
  const r = await api("/api/reports");
  const x = r.items.find((i) => i.name === name);
  if (!x) { show(el("p", {}, el("a", {href: "#/reports"}, "← eval reports")), el("p", {class: "error"}, "No report " + name + ".")); return; }
  // the report runs sandboxed (its own CSP, no same-origin): it cannot reach the API or the token cookie
  show(el("p", {}, el("a", {href: "#/reports"}, "← eval reports"), " · ", el("a", {href: x.url, target: "_blank", rel: "noopener"}, "open on its own")),
    el("h1", {}, x.name),
    el("p", {class: "muted"}, "One `twinforge eval` run: the base model and the trained adapter answer the same probes; " +
      "the report shows their metrics and generations side by side."), reportSummary(x),
    el("iframe", {id: "report-frame", src: x.url, sandbox: "allow-scripts", title: "eval report " + x.name}));
}

// --- router -----------------------------------------------------------------------------------------------------

async function route() {
  const raw = location.hash.replace(/^#/, "") || "/chat";
  if (raw.startsWith("msg-")) { focusMessage(raw.slice(4)); return; }  // in-page jump inside a conversation
  const [path, query] = raw.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const name = parts[0] || "chat";
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("on",
    a.dataset.route === name || (a.dataset.route === "conversations" && name === "c") || (a.dataset.route === "modules" && name === "m")));
  try {
    if (name === "chat") await renderChat();
    else if (name === "conversations") await renderConversations(params);
    else if (name === "c" && parts[1]) await renderConversation(parts[1], params);
    else if (name === "modules") await renderModules("dialog");
    else if (name === "papers") await renderModules("paper");
    else if (name === "m" && parts[1]) await renderModule(parts[1]);
    else if (name === "graph") await renderGraph(params);
    else if (name === "funnel") await renderFunnel();
    else if (name === "persona") await renderPersona();
    else if (name === "reports" && parts[1]) await renderReport(parts[1]);
    else if (name === "reports") await renderReports();
    else show(el("p", {class: "error"}, "No page " + raw));
  } catch (err) { failed(err); }
  // lets tests (and people) see which page finished loading: the route too, since going from one conversation to
  // another keeps the same name and a stale "c" would look ready before the new one rendered
  document.body.dataset.route = raw;
  document.body.dataset.ready = name;
}

async function status() {
  try {
    const o = await api("/api/overview");
    const c = o.counts;
    document.getElementById("status").textContent = o.workspace + ": " + num(c.conversations) + " conversations, " +
      num(c.modules) + " modules" + (o.memory_built ? ", memory built" : ", no memory (run twinforge memory build)");
  } catch (err) { document.getElementById("status").textContent = err.message; }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => { status(); route(); });
