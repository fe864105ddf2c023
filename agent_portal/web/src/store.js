// The portal's state and everything that changes it: the login, the socket and its events, the actions.
// Components read `state` through useStore() and re-render when notify() runs. Nothing here builds HTML:
// customer text only ever reaches the page as Preact text children.
import { io } from "socket.io-client";
import { useEffect, useState } from "preact/hooks";
import { alertNewTicket, alertCustomerMessage, updateTitle } from "./alerts.js";

export const SKILLS = ["Billing", "Technical", "Account", "Shipping", "General"];

export const state = {
  token: sessionStorage.getItem("portalToken"),
  loginError: "",
  connection: "connecting…",
  agent: null,
  tickets: new Map(), // every open ticket this agent can see, by id
  online: new Map(), // agent name -> away (true) or available (false)
  skillsOf: new Map(), // agent name -> their skills, for offering a transfer to those who can take the ticket
  away: new Set(), // tickets whose customer closed the chat (since this page loaded)
  unread: new Map(), // ticket id -> customer messages that arrived while it was not open
  tab: "queue", // queue | mine | all
  search: "",
  view: "list", // on a narrow screen, the one pane shown: list | conversation | details
  current: null, // the ticket open in the conversation pane
  preview: false, // the open ticket is waiting: read only, with Claim at hand
  previewLimited: false, // the server refused to open it: only the ticket's own data is shown
  openTicket: null, // the ticket as `open` returned it (or as the list had it, for a limited preview)
  brief: {},
  sentiments: [],
  messages: [],
  notes: [],
  draft: null, // the copilot draft on screen: {draft_id, content, stale}
  drafts: new Map(), // ticket id -> its latest copilot draft not yet sent or discarded
  customerTyping: false,
  emptyText: "Pick a conversation from the list.",
  reply: "",
  replyFromDraft: null,
  noteText: "",
  toast: { text: "", shown: false },
  claiming: new Set(), // tickets this page is claiming: any other that becomes ours was assigned to us
  earlier: [], // the open conversation's other tickets, newest first
  canned: [], // the team's saved replies: {id, shortcut, title, text, updated_by}
  cannedDialog: false, // a supervisor's editor of saved replies is open
  searchResults: null, // tickets the server found for the search box (resolved ones too), or null
  searching: false,
};

let socket = null;
let version = 0;
const listeners = new Set();

export function notify() {
  version += 1;
  for (const listener of listeners) listener(version);
  updateTitle(totalAlerts());
}

export function useStore() {
  const [, setVersion] = useState(version);
  useEffect(() => {
    listeners.add(setVersion);
    return () => listeners.delete(setVersion);
  }, []);
  return state;
}

export function set(changes) {
  Object.assign(state, changes);
  notify();
}

// ----- small helpers ---------------------------------------------------------------------------

let toastTimer = null;
export function toast(text) {
  state.toast = { text, shown: true };
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => set({ toast: { text: state.toast.text, shown: false } }), 3500);
  notify();
}

const LANGUAGE_NAMES = { en: "English", es: "Spanish", fr: "French", de: "German", pt: "Portuguese", it: "Italian", nl: "Dutch" };
export const languageName = (code) => LANGUAGE_NAMES[code] || code;

export function waited(ticket) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(ticket.waiting_since)) / 1000));
  return seconds < 90 ? `${seconds}s` : `${Math.round(seconds / 60)} min`;
}

// A ticket in a language the agent speaks is offered to them first: it tops their queue.
export const speaks = (ticket) => (state.agent?.languages || ["en"]).includes(ticket.language || "en");
export const holds = (ticket) => Boolean(ticket && state.agent && ticket.assigned_agent === state.agent.name);

export function lists() {
  const byPriority = [...state.tickets.values()].sort(
    (a, b) => speaks(b) - speaks(a) || b.priority - a.priority || Date.parse(a.waiting_since) - Date.parse(b.waiting_since),
  );
  const needle = state.search.trim().toLowerCase();
  const matches = (ticket) =>
    !needle ||
    [ticket.id, ticket.summary, ...Object.entries(ticket.customer_facts || {}).flat()].join(" ").toLowerCase().includes(needle);
  const shown = byPriority.filter(matches);
  return {
    queue: shown.filter((t) => t.status === "waiting"),
    mine: shown.filter((t) => t.status === "assigned" && holds(t)),
    all: state.agent?.is_supervisor ? shown : [],
    waitingCount: byPriority.filter((t) => t.status === "waiting").length,
    mineCount: byPriority.filter((t) => t.status === "assigned" && holds(t)).length,
  };
}

export function totalAlerts() {
  if (!state.agent) return 0;
  let unread = 0;
  for (const [id, count] of state.unread) if (state.tickets.has(id)) unread += count;
  const waiting = [...state.tickets.values()].filter((t) => t.status === "waiting").length;
  return unread + waiting;
}

// ----- login -----------------------------------------------------------------------------------

export async function login(name, password) {
  set({ loginError: "" });
  const response = await fetch("/portal/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name, password }),
  }).catch(() => null);
  const body = response ? await response.json().catch(() => ({ error: "the server did not answer" })) : { error: "the server did not answer" };
  if (!response || !response.ok) {
    set({ loginError: body.error || "login failed" });
    return;
  }
  sessionStorage.setItem("portalToken", body.token);
  set({ token: body.token });
  connect();
}

export function logout() {
  sessionStorage.removeItem("portalToken");
  location.reload();
}

function endSession(message) {
  sessionStorage.removeItem("portalToken");
  if (socket) socket.close();
  socket = null;
  set({ token: null, agent: null, loginError: message, connection: "connecting…" });
}

// ----- the socket ------------------------------------------------------------------------------

export function emit(event, payload, { quiet = false } = {}) {
  if (!socket) return Promise.resolve({ ok: false, error: "not connected" });
  return new Promise((resolve) => socket.timeout(15000).emit(event, payload, (error, ack) => resolve(error ? { ok: false, error: "the server did not answer in time" } : ack))).then((ack) => {
    if (!ack.ok && !quiet) toast(ack.error);
    return ack;
  });
}

export function connect() {
  socket = io({ path: "/portal/socket.io", auth: { token: state.token }, transports: ["websocket"] });
  notify();

  socket.on("connect", async () => {
    set({ connection: "live" });
    await loadQueue();
  });
  // The server changed this agent's rooms (skills or supervisor rights changed): reload what they see.
  socket.on("rights_changed", () => loadQueue());
  socket.on("session_ended", (event) => endSession(`${event.reason}; please log in again.`));
  socket.on("disconnect", (reason) => {
    // The server hung up on purpose (expired login, removed account): socket.io will not reconnect.
    if (reason === "io server disconnect") endSession("Your session ended; please log in again.");
    else set({ connection: "reconnecting…" });
  });
  socket.on("connect_error", (error) => {
    if (String(error.message).includes("authentication")) endSession("Your session ended; please log in again.");
  });

  socket.on("escalation_request", (ticket) => {
    const known = state.tickets.has(ticket.id);
    state.tickets.set(ticket.id, ticket);
    toast(
      `New escalation: ${ticket.skills.join("/")} — ${ticket.reason.replace(/_/g, " ")}${ticket.language && ticket.language !== "en" ? " · " + languageName(ticket.language) : ""}`,
    );
    if (!known && ticket.status === "waiting") alertNewTicket(ticket);
  });

  socket.on("ticket_updated", (ticket) => {
    const me = state.agent?.name;
    const supervisor = Boolean(state.agent?.is_supervisor);
    const mine = ticket.assigned_agent === me;
    const before = state.tickets.get(ticket.id);
    if (mine && "summary" in ticket && ticket.status === "assigned" && before?.assigned_agent !== ticket.assigned_agent && !state.claiming.has(ticket.id)) {
      toast(`Ticket ${ticket.id} was assigned to you`);
      if (!state.current || (state.current === ticket.id && state.preview)) setTimeout(() => openTicket(ticket.id), 0);
    }
    // A skill queue only hears that a ticket left it; its holder and supervisors get the full view next.
    if (!("summary" in ticket) && (mine || supervisor)) return;
    const inMyQueue = ticket.status === "waiting" && (supervisor || ticket.skills.some((skill) => state.agent?.skills.includes(skill)));
    if (state.current === ticket.id && !mine && !supervisor && before?.assigned_agent === me) {
      closeConversation(`You passed ticket ${ticket.id} to ${ticket.assigned_agent || "the " + ticket.skills.join("/") + " queue"}.`);
    }
    const open = ["waiting", "assigned"].includes(ticket.status); // a resolved or handed-back ticket leaves the lists
    if (open && ((inMyQueue && "summary" in ticket) || mine || (supervisor && ticket.status === "assigned"))) {
      state.tickets.set(ticket.id, ticket);
    } else {
      state.tickets.delete(ticket.id);
      state.unread.delete(ticket.id);
      if (before && before.status === "waiting" && ticket.assigned_agent) toast(`${ticket.assigned_agent} took ticket ${ticket.id}`);
      if (state.current === ticket.id && state.preview) closeConversation(`${ticket.assigned_agent || "Someone"} took ticket ${ticket.id}.`);
    }
    if (state.current === ticket.id && !["waiting", "assigned"].includes(ticket.status)) closeConversation(`Ticket ${ticket.status.replace("_", " ")}.`);
    if (state.current === ticket.id && "summary" in ticket && state.tickets.has(ticket.id)) {
      state.openTicket = { ...state.openTicket, ...ticket };
      // Claimed from another tab of this agent (or assigned): the preview becomes the conversation.
      if (state.preview && mine) setTimeout(() => openTicket(ticket.id), 0);
    }
    notify();
  });

  socket.on("customer_presence", (event) => {
    if (event.online) state.away.delete(event.ticket_id);
    else state.away.add(event.ticket_id);
    notify();
  });

  socket.on("customer_message", (event) => {
    state.away.delete(event.ticket_id);
    if (event.ticket_id === state.current) {
      appendMessage({ id: event.message_id, role: "customer", author: "Customer", content: event.content });
      state.customerTyping = false;
      if (document.hidden) alertCustomerMessage(state.tickets.get(event.ticket_id), event.content);
    } else {
      toast("New customer message");
      // Counted (card badge, tab title) and rung for the conversations this agent holds, not those a
      // supervisor merely watches.
      const ticket = state.tickets.get(event.ticket_id);
      if (holds(ticket)) {
        state.unread.set(event.ticket_id, (state.unread.get(event.ticket_id) || 0) + 1);
        alertCustomerMessage(ticket, event.content);
      }
    }
    notify();
  });

  socket.on("agent_message", (event) => {
    if (event.ticket_id === state.current) {
      appendMessage({ id: event.message_id, role: "agent", author: event.agent_name, content: event.content });
      notify();
    }
  });

  socket.on("typing", (event) => {
    if (event.ticket_id === state.current && event.who === "customer") set({ customerTyping: Boolean(event.is_typing) });
  });

  socket.on("copilot_suggestion", (event) => {
    // Kept per ticket: the draft made right after a claim can arrive before the page opens the ticket.
    state.drafts.set(event.ticket_id, event);
    if (event.ticket_id === state.current && !state.preview) state.draft = event;
    notify();
  });

  socket.on("note_added", (note) => {
    if (note.ticket_id === state.current) set({ notes: [...state.notes, { author: note.author, text: note.text }] });
  });

  socket.on("canned_replies_changed", (event) => set({ canned: event.replies || [] }));

  socket.on("presence", (event) => {
    if (event.online) state.online.set(event.agent, Boolean(event.away));
    else state.online.delete(event.agent);
    if (event.skills) state.skillsOf.set(event.agent, event.skills);
    if (event.agent === state.agent?.name && event.online) state.agent = { ...state.agent, away: Boolean(event.away) };
    notify();
  });
}

async function loadQueue() {
  const ack = await emit("queue", {});
  if (!ack.ok) return;
  state.agent = ack.agent;
  state.tickets = new Map(ack.tickets.map((ticket) => [ticket.id, ticket]));
  state.online = new Map(ack.online.map((name) => [name, ack.away.includes(name)]));
  state.skillsOf = new Map(Object.entries(ack.skills || {}));
  if (state.tab === "all" && !ack.agent.is_supervisor) state.tab = "queue";
  notify();
  emit("canned_replies", {}, { quiet: true }).then((canned) => canned.ok && set({ canned: canned.replies }));
  const reopen = state.current || sessionStorage.getItem("portal.current"); // after a reload too
  if (reopen && state.tickets.has(reopen)) openTicket(reopen, { keepView: true });
}

// ----- actions ---------------------------------------------------------------------------------

export async function setAvailability() {
  const ack = await emit("availability", { away: !state.agent.away });
  if (ack.ok) set({ agent: { ...state.agent, ...ack.agent } });
}

export async function claim(ticketId) {
  state.claiming.add(ticketId);
  notify();
  const ack = await emit("claim", { ticket_id: ticketId });
  state.claiming.delete(ticketId);
  if (ack.ok) {
    state.tickets.set(ack.ticket.id, ack.ticket);
    state.tab = "mine";
    notify();
    await openTicket(ack.ticket.id);
  } else notify();
  return ack;
}

export async function openTicket(ticketId, { keepView = false, fallback = null } = {}) {
  const known = state.tickets.get(ticketId) || fallback;
  // A waiting ticket opens as a preview; where the server refuses to open it (or a closed ticket a search
  // found), what the card itself says is shown, read only.
  const readOnly = Boolean(known) && (known.status === "waiting" || (Boolean(fallback) && known.status !== "assigned"));
  const ack = await emit("open", { ticket_id: ticketId }, { quiet: readOnly });
  if (!ack.ok && !readOnly) return;
  if (state.current !== ticketId) stopTyping();
  const ticket = ack.ok ? { ...known, ...ack.ticket } : known;
  const preview = !ack.ok || ticket.status !== "assigned" || Boolean(ack.preview);
  Object.assign(state, {
    current: ticketId,
    preview,
    previewLimited: !ack.ok,
    openTicket: ticket,
    brief: (ack.ok && ack.brief) || {},
    sentiments: (ack.ok && ack.sentiments) || [],
    messages: [],
    notes: ack.ok ? ack.notes.map((note) => ({ author: note.actor, text: note.detail.text })) : [],
    customerTyping: false,
    draft: null,
    earlier: (ack.ok && ack.earlier_tickets) || [],
  });
  sessionStorage.setItem("portal.current", ticketId);
  state.unread.delete(ticketId);
  if (ack.ok) for (const message of ack.messages) appendMessage(message);
  if (!preview) {
    // The stored draft survives a reload; one that arrived live since is newer.
    const live = state.drafts.get(ticketId);
    state.draft = live && (!ack.draft || live.draft_id !== ack.draft.draft_id) ? live : ack.draft || null;
  }
  if (!(keepView && state.view === "details")) state.view = "conversation";
  if (holds(ticket) && ticket.status === "assigned" && state.tab === "queue") state.tab = "mine"; // claimed, assigned, or reopened after a reload
  notify();
}

export function closeConversation(reason) {
  stopTyping();
  sessionStorage.removeItem("portal.current");
  Object.assign(state, {
    current: null,
    preview: false,
    previewLimited: false,
    openTicket: null,
    messages: [],
    notes: [],
    draft: null,
    customerTyping: false,
    earlier: [],
    emptyText: reason || "Pick a conversation from the list.",
  });
  if (state.view === "details") state.view = "conversation";
  notify();
}

function appendMessage(message) {
  if (message.id && state.messages.some((m) => m.id === message.id)) return;
  state.messages = [...state.messages, message];
}

async function sendReply(text, draftId) {
  const ack = await emit("reply", { ticket_id: state.current, text, ...(draftId ? { draft_id: draftId } : {}) });
  if (ack.ok) {
    appendMessage(ack.message);
    state.reply = "";
    state.replyFromDraft = null;
    stopTyping();
    notify();
  }
  return ack;
}

export async function submitReply() {
  if (!state.current || state.preview) return;
  const text = state.reply.trim();
  if (!text) return toast("Write a reply first: an empty message is not sent");
  const usedDraft = state.draft && state.replyFromDraft === state.draft.draft_id ? state.draft.draft_id : null;
  const ack = await sendReply(text, usedDraft);
  if (ack.ok && usedDraft) dropDraft();
  else if (ack.ok && state.draft) set({ draft: { ...state.draft, stale: true } });
}

export function dropDraft() {
  state.drafts.delete(state.current);
  set({ draft: null });
}

export function useDraft() {
  set({ reply: state.draft.content, replyFromDraft: state.draft.draft_id });
}

export async function sendDraft() {
  const ack = await sendReply(state.draft.content, state.draft.draft_id);
  if (ack.ok) dropDraft();
}

export async function discardDraft() {
  await emit("discard_draft", { ticket_id: state.current, draft_id: state.draft.draft_id });
  dropDraft();
}

export async function requestDraft() {
  const ticketId = state.current;
  const ack = await emit("request_draft", { ticket_id: ticketId });
  if (ack.ok) {
    state.drafts.set(ticketId, ack.draft);
    if (state.current === ticketId) state.draft = ack.draft;
    notify();
  }
}

export async function addNote() {
  const text = state.noteText.trim();
  if (!text) return toast("Write the note first");
  const ack = await emit("note", { ticket_id: state.current, text });
  if (ack.ok) set({ noteText: "" });
}

export async function transfer(value) {
  const [kind, target] = value.split(/:(.*)/s);
  if (!target) return;
  const ack = await emit("transfer", { ticket_id: state.current, ...(kind === "agent" ? { to_agent: target } : { skills: [target] }) });
  if (ack.ok) closeConversation(`Transferred to ${target}.`);
}

export async function handBack() {
  const ack = await emit("hand_back", { ticket_id: state.current });
  if (ack.ok) closeConversation("Handed back to the assistant.");
}

export async function resolve() {
  const ack = await emit("resolve", { ticket_id: state.current });
  if (ack.ok) closeConversation("Resolved.");
}

// ----- canned replies and search ----------------------------------------------------------------

// The saved reply's text for the open ticket, its {placeholders} filled from the customer's facts.
export async function fillCanned(reply) {
  const ack = await emit("canned_reply", { ticket_id: state.current, reply_id: reply.id });
  if (ack.ok && ack.missing?.length) toast(`Fill in by hand: ${ack.missing.map((name) => `{${name}}`).join(", ")}`);
  return ack.ok ? ack.text : null;
}

export async function saveCanned(fields) {
  const ack = await emit("save_canned_reply", fields);
  if (ack.ok) toast(`Saved /${ack.reply.shortcut}`);
  return ack;
}

export async function deleteCanned(reply) {
  const ack = await emit("delete_canned_reply", { id: reply.id });
  if (ack.ok) {
    set({ canned: state.canned.filter((other) => other.id !== reply.id) });
    toast(`Deleted /${reply.shortcut}`);
  }
  return ack;
}

let searchSerial = 0;
export async function searchTickets(query) {
  const serial = ++searchSerial;
  if (!query.trim()) return set({ searchResults: null, searching: false });
  set({ searching: true });
  const ack = await emit("search", { query: query.trim(), scope: "all" });
  if (serial !== searchSerial) return; // a newer search was sent meanwhile
  set({ searching: false, searchResults: ack.ok ? ack.tickets : [] });
}

// ----- the agent's typing indicator ------------------------------------------------------------

let typingSent = false; // the ticket id the indicator is on, or false
let typingTimer = null;

export function stopTyping() {
  clearTimeout(typingTimer);
  if (typingSent && socket) socket.emit("typing", { ticket_id: typingSent, is_typing: false }, () => {});
  typingSent = false;
}

export function typed(value) {
  state.reply = value;
  if (!value) state.replyFromDraft = null;
  notify();
  if (!state.current || state.preview || !socket) return;
  if (value.length >= 4000) toast("A reply is at most 4,000 characters; the rest was cut");
  if (typingSent !== state.current) {
    stopTyping();
    typingSent = state.current; // the ticket the indicator is on, whatever is open later
    socket.emit("typing", { ticket_id: state.current, is_typing: true }, () => {});
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, 2500);
}

setInterval(notify, 30000); // refreshes the "waited" times on screen; no data is fetched
