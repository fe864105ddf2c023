// The agent portal. Everything a customer wrote is inserted with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const portal = {
  token: sessionStorage.getItem("portalToken"),
  agent: null,
  socket: null,
  tickets: new Map(),   // every open ticket this agent can see, by id
  current: null,        // the ticket open in the conversation pane
  draft: null,          // the copilot draft on screen: {draft_id, content}
  drafts: new Map(),    // ticket id -> its latest copilot draft not yet sent or discarded
  typingTimer: null,
  away: new Set(),      // tickets whose customer closed the chat (since this page loaded)
  typingSent: false,    // the ticket id the typing indicator is on, or false
  claiming: new Set(),  // tickets this page is claiming: any other that becomes ours was assigned to us
  online: new Map(),    // agent name -> away (true) or available (false), across every server process
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// **bold** from the help articles as bold; every piece is still inserted as text.
function withBold(text) {
  return text.split(/\*\*(.+?)\*\*/s).map((part, index) => (index % 2 ? el("strong", "", part) : document.createTextNode(part)));
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.classList.add("show");
  clearTimeout(box.hideTimer);
  box.hideTimer = setTimeout(() => box.classList.remove("show"), 3500);
}

function waited(ticket) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(ticket.waiting_since)) / 1000));
  return seconds < 90 ? `${seconds}s` : `${Math.round(seconds / 60)} min`;
}

// ----- login ---------------------------------------------------------------------------------

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const response = await fetch("/portal/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: $("login-name").value, password: $("login-password").value }),
  });
  const body = await response.json().catch(() => ({ error: "the server did not answer" }));
  if (!response.ok) {
    $("login-error").textContent = body.error || "login failed";
    return;
  }
  portal.token = body.token;
  sessionStorage.setItem("portalToken", body.token);
  connect();
});

$("logout").addEventListener("click", () => {
  sessionStorage.removeItem("portalToken");
  location.reload();
});

// ----- the socket ----------------------------------------------------------------------------

function emit(event, payload) {
  return new Promise((resolve) => portal.socket.emit(event, payload, resolve)).then((ack) => {
    if (!ack.ok) toast(ack.error);
    return ack;
  });
}

function connect() {
  $("login-view").hidden = true;
  $("portal-view").hidden = false;
  const socket = io({ path: "/portal/socket.io", auth: { token: portal.token }, transports: ["websocket"] });
  portal.socket = socket;

  socket.on("connect", async () => {
    $("connection").textContent = "live";
    await loadQueue();
  });
  // The server changed this agent's rooms (skills or supervisor rights changed): reload what they see.
  socket.on("rights_changed", () => loadQueue());
  socket.on("session_ended", (event) => endSession(`${event.reason}; please log in again.`));
  socket.on("disconnect", (reason) => {
    // The server hung up on purpose (expired login, removed account): socket.io will not reconnect.
    if (reason === "io server disconnect") endSession("Your session ended; please log in again.");
    else $("connection").textContent = "reconnecting…";
  });
  socket.on("connect_error", (error) => {
    if (String(error.message).includes("authentication")) endSession("Your session ended; please log in again.");
  });

  async function loadQueue() {
    const ack = await emit("queue", {});
    if (!ack.ok) return;
    portal.agent = ack.agent;
    $("me").textContent = `${ack.agent.name} · ${ack.agent.skills.join(", ")} · ${(ack.agent.languages || ["en"]).join("/").toUpperCase()}${ack.agent.is_supervisor ? " · supervisor" : ""}`;
    $("supervisor-panel").hidden = !ack.agent.is_supervisor;
    $("reports-link").hidden = !ack.agent.is_supervisor;
    fillTransferTargets(ack.agent);
    portal.tickets = new Map(ack.tickets.map((ticket) => [ticket.id, ticket]));
    portal.online = new Map(ack.online.map((name) => [name, ack.away.includes(name)]));
    showOnline();
    showAvailability(ack.agent.away);
    renderLists();
    const reopen = portal.current || sessionStorage.getItem("portal.current");  // after a reload too
    if (reopen && portal.tickets.has(reopen)) openTicket(reopen);
  }

  function endSession(message) {
    sessionStorage.removeItem("portalToken");
    $("portal-view").hidden = true;
    $("login-view").hidden = false;
    $("login-error").textContent = message;
    socket.close();
  }

  socket.on("escalation_request", (ticket) => {
    portal.tickets.set(ticket.id, ticket);
    renderLists();
    toast(`New escalation: ${ticket.skills.join("/")} — ${ticket.reason.replace(/_/g, " ")}${ticket.language && ticket.language !== "en" ? " · " + languageName(ticket.language) : ""}`);
  });
  socket.on("ticket_updated", (ticket) => {
    const mine = ticket.assigned_agent === portal.agent?.name;
    const before = portal.tickets.get(ticket.id);
    if (mine && "summary" in ticket && ticket.status === "assigned" && before?.assigned_agent !== ticket.assigned_agent && !portal.claiming.has(ticket.id)) {
      toast(`Ticket ${ticket.id} was assigned to you`);
      if (!portal.current) setTimeout(() => openTicket(ticket.id), 0);
    }
    // A skill queue only hears that a ticket left it; its holder and supervisors get the full view next.
    if (!("summary" in ticket) && (mine || portal.agent?.is_supervisor)) return;
    const inMyQueue = ticket.status === "waiting" && (portal.agent?.is_supervisor || ticket.skills.some((skill) => portal.agent?.skills.includes(skill)));
    if (portal.current === ticket.id && !mine && !portal.agent?.is_supervisor && before?.assigned_agent === portal.agent?.name) {
      closeConversation(`You passed ticket ${ticket.id} to ${ticket.assigned_agent || "the " + ticket.skills.join("/") + " queue"}.`);
    }
    if ((inMyQueue && "summary" in ticket) || mine || portal.agent?.is_supervisor && ticket.status === "assigned") {
      portal.tickets.set(ticket.id, ticket);
    } else {
      portal.tickets.delete(ticket.id);
      if (before && before.status === "waiting" && ticket.assigned_agent) toast(`${ticket.assigned_agent} took ticket ${ticket.id}`);
    }
    if (portal.current === ticket.id && !["waiting", "assigned"].includes(ticket.status)) closeConversation(`Ticket ${ticket.status.replace("_", " ")}.`);
    if (portal.current === ticket.id && "summary" in ticket && portal.tickets.has(ticket.id)) renderBrief(ticket, portal.brief || {}, portal.sentiments);
    renderLists();
  });
  socket.on("customer_presence", (event) => {
    event.online ? portal.away.delete(event.ticket_id) : portal.away.add(event.ticket_id);
    if (event.ticket_id === portal.current) $("customer-away").hidden = event.online;
    renderLists();
  });
  socket.on("customer_message", (event) => {
    portal.away.delete(event.ticket_id);
    if (event.ticket_id === portal.current) $("customer-away").hidden = true;
    if (event.ticket_id === portal.current) appendMessage({ id: event.message_id, role: "customer", author: "Customer", content: event.content });
    else toast("New customer message");
    $("customer-typing").hidden = true;
  });
  socket.on("agent_message", (event) => {
    if (event.ticket_id === portal.current) appendMessage({ id: event.message_id, role: "agent", author: event.agent_name, content: event.content });
  });
  socket.on("typing", (event) => {
    if (event.ticket_id === portal.current && event.who === "customer") $("customer-typing").hidden = !event.is_typing;
  });
  socket.on("copilot_suggestion", (event) => {
    // Kept per ticket: the draft made right after a claim can arrive before the page opens the ticket.
    portal.drafts.set(event.ticket_id, event);
    if (event.ticket_id === portal.current) showDraft(event);
  });
  socket.on("note_added", (note) => {
    if (note.ticket_id === portal.current) $("note-list").append(el("li", "", `${note.author}: ${note.text}`));
  });
  socket.on("presence", (event) => {
    event.online ? portal.online.set(event.agent, Boolean(event.away)) : portal.online.delete(event.agent);
    if (event.agent === portal.agent?.name && event.online) showAvailability(Boolean(event.away));
    showOnline();
  });
}

function showOnline() {
  const names = [...portal.online.keys()].sort();
  $("online").textContent = names.length ? `Online: ${names.map((name) => (portal.online.get(name) ? `${name} (away)` : name)).join(", ")}` : "";
  if (portal.agent) fillTransferTargets(portal.agent);
}

function showAvailability(away) {
  if (portal.agent) portal.agent.away = away;
  $("availability").textContent = away ? "Away" : "Available";
  $("availability").classList.toggle("away", away);
  $("availability").setAttribute("aria-pressed", String(!away));
}

$("availability").addEventListener("click", async () => {
  const ack = await emit("availability", { away: !portal.agent.away });
  if (ack.ok) showAvailability(ack.agent.away);
});

// Transfer to a skill's queue, or straight to an available colleague.
function fillTransferTargets(agent) {
  const select = $("transfer-skill");
  const prompt = el("option", "", "Transfer to…");
  prompt.value = "";
  const queues = el("optgroup");
  queues.label = "A team's queue";
  for (const skill of ["Billing", "Technical", "Account", "Shipping", "General"]) {
    const option = el("option", "", skill);
    option.value = `skill:${skill}`;
    queues.append(option);
  }
  const people = el("optgroup");
  people.label = "An available agent";
  for (const [name, away] of [...portal.online.entries()].sort()) {
    if (away || name === agent.name) continue;
    const option = el("option", "", name);
    option.value = `agent:${name}`;
    people.append(option);
  }
  select.replaceChildren(prompt, queues, ...(people.children.length ? [people] : []));
}

// ----- lists ---------------------------------------------------------------------------------

function ticketCard(ticket, button) {
  const item = el("li", "ticket" + (ticket.frustration >= 0.6 ? " hot" : "") + (ticket.id === portal.current ? " active" : ""));
  item.dataset.ticketId = ticket.id;
  const tags = el("div");
  for (const skill of ticket.skills) tags.append(el("span", "tag", skill));
  if (ticket.language && ticket.language !== "en") tags.append(el("span", "tag" + (speaks(ticket) ? " speaks" : ""), ticket.language.toUpperCase()));
  if (portal.away.has(ticket.id)) tags.append(el("span", "tag away", "customer left"));
  item.append(tags, el("div", "summary", ticket.summary));
  item.append(el("div", "meta", `${ticket.reason.replace(/_/g, " ")} · sentiment ${ticket.sentiment.toFixed(2)} · ${ticket.assigned_agent ? "with " + ticket.assigned_agent : "waiting " + waited(ticket)}`));
  if (button) item.append(button);
  return item;
}

// A ticket in a language the agent speaks is offered to them first: it tops their queue.
function speaks(ticket) {
  return (portal.agent?.languages || ["en"]).includes(ticket.language || "en");
}

function renderLists() {
  const byPriority = [...portal.tickets.values()].sort(
    (a, b) => speaks(b) - speaks(a) || b.priority - a.priority || Date.parse(a.waiting_since) - Date.parse(b.waiting_since),
  );
  const waiting = byPriority.filter((t) => t.status === "waiting");
  const mine = byPriority.filter((t) => t.status === "assigned" && t.assigned_agent === portal.agent?.name);
  $("queue-count").textContent = String(waiting.length);
  $("queue").replaceChildren(...waiting.map((ticket) => {
    const claim = el("button", "claim", "Claim");
    claim.addEventListener("click", async (event) => {
      event.stopPropagation();
      claim.disabled = true;
      portal.claiming.add(ticket.id);
      const ack = await emit("claim", { ticket_id: ticket.id });
      portal.claiming.delete(ticket.id);
      if (ack.ok) {
        portal.tickets.set(ack.ticket.id, ack.ticket);
        renderLists();
        openTicket(ack.ticket.id);
      } else {
        claim.disabled = false;
      }
    });
    return ticketCard(ticket, claim);
  }));
  $("mine").replaceChildren(...mine.map((ticket) => {
    const card = ticketCard(ticket);
    card.addEventListener("click", () => openTicket(ticket.id));
    return card;
  }));
  if (portal.agent?.is_supervisor) {
    $("all-open").replaceChildren(...byPriority.map((ticket) => {
      const card = ticketCard(ticket);
      card.addEventListener("click", () => openTicket(ticket.id));
      return card;
    }));
  }
}

// ----- one conversation ----------------------------------------------------------------------

async function openTicket(ticketId) {
  const ack = await emit("open", { ticket_id: ticketId });
  if (!ack.ok) return;
  portal.current = ticketId;
  sessionStorage.setItem("portal.current", ticketId);
  $("customer-away").hidden = !portal.away.has(ticketId);
  $("empty").hidden = true;
  $("conversation").hidden = false;
  portal.brief = ack.brief;
  portal.sentiments = ack.sentiments;
  renderBrief(ack.ticket, ack.brief, ack.sentiments);
  $("messages").replaceChildren();
  for (const message of ack.messages) appendMessage(message);
  $("note-list").replaceChildren(...ack.notes.map((note) => el("li", "", `${note.actor}: ${note.detail.text}`)));
  // The stored draft survives a reload; one that arrived live since is newer.
  const live = portal.drafts.get(ticketId);
  const draft = live && (!ack.draft || live.draft_id !== ack.draft.draft_id) ? live : ack.draft;
  if (draft) showDraft(draft);
  else { $("copilot").hidden = true; portal.draft = null; }
  const holding = ack.ticket.assigned_agent === portal.agent.name;
  for (const id of ["reply-send", "hand-back", "resolve", "transfer-skill", "reply-text", "draft-request"]) $(id).disabled = !holding;
  renderLists();
}

function closeConversation(reason) {
  stopTyping();
  portal.current = null;
  sessionStorage.removeItem("portal.current");
  $("conversation").hidden = true;
  $("empty").hidden = false;
  $("empty").textContent = reason || "Pick a conversation from the queue.";
}

const LANGUAGE_NAMES = { en: "English", es: "Spanish", fr: "French", de: "German", pt: "Portuguese", it: "Italian", nl: "Dutch" };

function languageName(code) {
  return LANGUAGE_NAMES[code] || code;
}

function renderBrief(ticket, brief, sentiments) {
  const box = $("brief");
  box.replaceChildren(el("h3", "", `Ticket ${ticket.id}`), el("p", "", ticket.summary));
  const facts = el("dl");
  const rows = [
    ["Reason", brief.reason_text || ticket.reason],
    ["Skills", ticket.skills.join(", ")],
    ["Language", languageName(brief.language || ticket.language || "en")],
    ["Sentiment", brief.sentiment_trend || (sentiments || []).map((s) => s.toFixed(2)).join(" → ")],
    ...Object.entries(ticket.customer_facts || {}).map(([key, value]) => [key.replace(/_/g, " "), value]),
  ];
  for (const [key, value] of rows) facts.append(el("dt", "", key), el("dd", "", value));
  box.append(facts);
}

function appendMessage(message) {
  const list = $("messages");
  if (message.id && list.querySelector(`[data-message-id="${CSS.escape(message.id)}"]`)) return;
  const item = el("li", message.role);
  if (message.id) item.dataset.messageId = message.id;
  item.append(el("span", "author", message.author), ...withBold(message.content));
  if (message.stopped) item.append(el("em", "stopped", " (stopped by the customer)"));
  list.append(item);
  list.scrollTop = list.scrollHeight;
}

function showDraft(draft) {
  portal.draft = draft;
  $("draft-text").replaceChildren(...withBold(draft.content));
  $("draft-stale").hidden = !draft.stale;
  $("copilot").classList.toggle("is-stale", Boolean(draft.stale));
  $("copilot").hidden = false;
}

function markDraftStale() {
  if (!portal.draft) return;
  portal.draft.stale = true;
  showDraft(portal.draft);
}

async function sendReply(text, draftId) {
  const ack = await emit("reply", { ticket_id: portal.current, text, ...(draftId ? { draft_id: draftId } : {}) });
  if (ack.ok) {
    appendMessage(ack.message);
    $("reply-text").value = "";
    stopTyping();
  }
  return ack;
}

$("reply-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("reply-text").value.trim();
  if (!portal.current) return;
  if (!text) return toast("Write a reply first: an empty message is not sent");
  const usedDraft = portal.draft && $("reply-text").dataset.fromDraft === portal.draft.draft_id ? portal.draft.draft_id : null;
  const ack = await sendReply(text, usedDraft);
  if (ack.ok && usedDraft) dropDraft();
  else if (ack.ok) markDraftStale();
});

$("draft-request").addEventListener("click", async () => {
  $("draft-request").disabled = true;
  const ack = await emit("request_draft", { ticket_id: portal.current });
  $("draft-request").disabled = false;
  if (ack.ok) {
    portal.drafts.set(portal.current, ack.draft);
    showDraft(ack.draft);
  }
});

function dropDraft() {
  portal.drafts.delete(portal.current);
  $("copilot").hidden = true;
  portal.draft = null;
}

$("draft-use").addEventListener("click", () => {
  $("reply-text").value = portal.draft.content;
  $("reply-text").dataset.fromDraft = portal.draft.draft_id;
  $("reply-text").focus();
});
$("draft-send").addEventListener("click", async () => {
  const ack = await sendReply(portal.draft.content, portal.draft.draft_id);
  if (ack.ok) dropDraft();
});
$("draft-discard").addEventListener("click", async () => {
  await emit("discard_draft", { ticket_id: portal.current, draft_id: portal.draft.draft_id });
  dropDraft();
});

$("note-add").addEventListener("click", async () => {
  const text = $("note-text").value.trim();
  if (!text) return toast("Write the note first");
  const ack = await emit("note", { ticket_id: portal.current, text });
  if (ack.ok) $("note-text").value = "";
});
$("transfer-skill").addEventListener("change", async () => {
  const [kind, target] = $("transfer-skill").value.split(/:(.*)/s);
  if (!target) return;
  const ack = await emit("transfer", { ticket_id: portal.current, ...(kind === "agent" ? { to_agent: target } : { skills: [target] }) });
  $("transfer-skill").value = "";
  if (ack.ok) closeConversation(`Transferred to ${target}.`);
});
$("hand-back").addEventListener("click", async () => {
  const ack = await emit("hand_back", { ticket_id: portal.current });
  if (ack.ok) closeConversation("Handed back to the assistant.");
});
$("resolve").addEventListener("click", async () => {
  const ack = await emit("resolve", { ticket_id: portal.current });
  if (ack.ok) closeConversation("Resolved.");
});

function stopTyping() {
  clearTimeout(portal.typingTimer);
  if (portal.typingSent) portal.socket.emit("typing", { ticket_id: portal.typingSent, is_typing: false }, () => {});
  portal.typingSent = false;
}

// Enter sends, Shift+Enter starts a new line (as in every chat tool agents know).
$("reply-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("reply-form").requestSubmit();
  }
});

$("reply-text").addEventListener("input", () => {
  if (!portal.current || $("reply-text").disabled) return;
  if ($("reply-text").value.length >= 4000) toast("A reply is at most 4,000 characters; the rest was cut");
  if (portal.typingSent !== portal.current) {
    stopTyping();
    portal.typingSent = portal.current;  // the ticket the indicator is on, whatever is open later
    portal.socket.emit("typing", { ticket_id: portal.current, is_typing: true }, () => {});
  }
  clearTimeout(portal.typingTimer);
  portal.typingTimer = setTimeout(stopTyping, 2500);
});

setInterval(renderLists, 30000);  // refreshes the "waited" times on screen; no data is fetched
if (portal.token) connect();
