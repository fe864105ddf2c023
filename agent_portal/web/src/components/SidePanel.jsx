import { addNote, languageName, set, useStore } from "../store.js";

function Facts({ rows, id }) {
  return (
    <dl id={id}>
      {rows.map(([key, value]) => [<dt key={`k-${key}`}>{key}</dt>, <dd key={`v-${key}`}>{String(value ?? "")}</dd>])}
    </dl>
  );
}

export function SidePanel() {
  const state = useStore();
  const ticket = state.openTicket;
  const brief = state.brief || {};
  const facts = Object.entries(ticket?.customer_facts || {}).map(([key, value]) => [key.replace(/_/g, " "), value]);
  return (
    <aside id="side-pane" class="pane" aria-label="Details">
      <div class="conversation-head">
        <button type="button" id="details-back" class="back" onClick={() => set({ view: "conversation" })}>
          ‹ Conversation
        </button>
      </div>
      <div id="brief" class="card">
        {ticket ? (
          <>
            <h3>Ticket {ticket.id}</h3>
            <p class="brief-summary">{ticket.summary}</p>
            <Facts
              rows={[
                ["Reason", brief.reason_text || ticket.reason],
                ["Skills", ticket.skills.join(", ")],
                ["Language", languageName(brief.language || ticket.language || "en")],
                ["Sentiment", brief.sentiment_trend || (state.sentiments || []).map((s) => s.toFixed(2)).join(" → ")],
                ["Status", ticket.assigned_agent ? `${ticket.status}, with ${ticket.assigned_agent}` : ticket.status],
              ]}
            />
          </>
        ) : (
          <p class="muted">The brief of the conversation you open shows here.</p>
        )}
      </div>
      <div id="facts" class="card" hidden={!ticket}>
        <h3>Customer facts</h3>
        {facts.length ? <Facts id="fact-list" rows={facts} /> : <p class="muted">None given yet.</p>}
      </div>
      {ticket && state.earlier.length > 0 && (
        <div id="earlier-tickets" class="card">
          <h3>Earlier tickets of this conversation</h3>
          <ul>
            {state.earlier.map((earlier) => (
              <li key={earlier.id}>
                <span class="meta">{`${earlier.status.replace("_", " ")}${earlier.assigned_agent ? " · " + earlier.assigned_agent : ""} · ${new Date(earlier.closed_at || earlier.waiting_since).toLocaleDateString()}`}</span>
                <div>{earlier.summary}</div>
              </li>
            ))}
          </ul>
        </div>
      )}
      <div id="notes" class="card" hidden={!ticket}>
        <h3>Private notes</h3>
        <ul id="note-list">
          {state.notes.map((note, index) => (
            <li key={index}>{`${note.author}: ${note.text}`}</li>
          ))}
        </ul>
        <textarea
          id="note-text"
          rows={2}
          maxLength={4000}
          placeholder="A note for agents and supervisors; the customer never sees it"
          value={state.noteText}
          onInput={(event) => set({ noteText: event.currentTarget.value })}
        />
        <button type="button" id="note-add" disabled={state.preview && !state.agent?.is_supervisor} onClick={addNote}>
          Add private note
        </button>
      </div>
    </aside>
  );
}
