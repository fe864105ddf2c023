import { useEffect, useRef } from "preact/hooks";
import { claim, set, useStore } from "../store.js";
import { Bold } from "./Bold.jsx";
import { Composer } from "./Composer.jsx";
import { CopilotDraft } from "./CopilotDraft.jsx";

function Messages({ messages }) {
  const list = useRef(null);
  useEffect(() => {
    if (list.current) list.current.scrollTop = list.current.scrollHeight;
  }, [messages.length]);
  return (
    <ol id="messages" ref={list} aria-live="polite">
      {messages.map((message, index) => (
        <li key={message.id || `m${index}`} class={message.role} data-message-id={message.id}>
          <span class="author">{message.author}</span>
          <Bold text={message.content} />
          {message.stopped && <em class="stopped"> (stopped by the customer)</em>}
        </li>
      ))}
    </ol>
  );
}

export function Conversation() {
  const state = useStore();
  const ticket = state.openTicket;
  const back = (
    <button type="button" id="conversation-back" class="back" onClick={() => set({ view: "list" })}>
      ‹ Conversations
    </button>
  );
  return (
    <section id="conversation-pane" class="pane" aria-label="Conversation">
      {!ticket && (
        <div class="empty-wrap">
          {back}
          <section id="empty" class="card">
            {state.emptyText}
          </section>
        </div>
      )}
      <section id="conversation" hidden={!ticket}>
        <div class="conversation-head">
          {back}
          <h2 id="conversation-title">{ticket ? `Ticket ${ticket.id}` : ""}</h2>
          <button type="button" id="show-details" class="back" onClick={() => set({ view: "details" })}>
            Details ›
          </button>
        </div>
        {state.preview && ticket && (
          <div id="preview" class="card preview">
            <span>
              {ticket.status !== "waiting"
                ? `This ticket is ${ticket.status.replace("_", " ")}${state.previewLimited ? ": only its summary is shown" : ""}. Read only.`
                : state.previewLimited
                  ? "Waiting in the queue. Claim it to read the conversation and reply."
                  : "Preview: this ticket is waiting in the queue. Claim it to reply."}
            </span>
            {ticket.status === "waiting" && (
              <button type="button" id="preview-claim" class="claim" disabled={state.claiming.has(ticket.id)} onClick={() => claim(ticket.id)}>
                Claim
              </button>
            )}
          </div>
        )}
        {state.previewLimited && ticket && (
          <p id="preview-summary" class="preview-summary">
            {ticket.summary}
          </p>
        )}
        <Messages messages={state.messages} />
        <p id="customer-typing" class="typing" hidden={!state.customerTyping}>
          Customer is typing…
        </p>
        <p id="customer-away" class="away-note" hidden={!ticket || !state.away.has(ticket.id)}>
          The customer closed the chat. Your reply is kept and shown when they come back.
        </p>
        <CopilotDraft />
        <Composer />
      </section>
    </section>
  );
}
