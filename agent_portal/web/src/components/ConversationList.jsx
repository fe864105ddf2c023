import { useEffect } from "preact/hooks";
import { lists, searchTickets, set, useStore } from "../store.js";
import { TicketCard } from "./TicketCard.jsx";

let searchTimer = null;

export function ConversationList() {
  const state = useStore();
  const { queue, mine, all, waitingCount, mineCount } = lists();
  const supervisor = Boolean(state.agent?.is_supervisor);
  const mineUnread = mine.reduce((sum, t) => sum + (state.unread.get(t.id) || 0), 0);
  // The lists filter as the agent types; the server also searches every ticket (resolved ones too) once
  // they pause, or at once on Enter.
  useEffect(() => () => clearTimeout(searchTimer), []);
  const onSearch = (value) => {
    set({ search: value });
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => searchTickets(value.trim().length >= 2 ? value : ""), 400);
  };
  const results = state.searchResults;
  const tabs = [
    ["queue", "Queue", waitingCount],
    ["mine", "Mine", mineCount],
    ...(supervisor ? [["all", "All open", state.tickets.size]] : []),
  ];
  return (
    <aside id="list-pane" class="pane" aria-label="Conversations">
      <div class="tabs" role="tablist">
        {tabs.map(([key, label, count]) => (
          <button
            type="button"
            role="tab"
            id={`tab-${key}`}
            key={key}
            class={"tab" + (state.tab === key ? " selected" : "")}
            aria-selected={String(state.tab === key)}
            onClick={() => set({ tab: key })}
          >
            {label}{" "}
            <span id={key === "queue" ? "queue-count" : undefined} class="pill">
              {count}
            </span>
            {key === "mine" && mineUnread > 0 && <span class="badge">{mineUnread}</span>}
          </button>
        ))}
      </div>
      <input
        id="search"
        type="search"
        placeholder="Filter by summary or customer facts"
        aria-label="Filter conversations"
        value={state.search}
        onInput={(e) => onSearch(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            clearTimeout(searchTimer);
            searchTickets(e.currentTarget.value);
          }
          if (e.key === "Escape") {
            onSearch("");
            searchTickets("");
          }
        }}
      />
      <div class="lists">
        {results && (
          <section id="search-results" aria-label="Search results">
            <div class="results-head">
              <h3>{`All tickets matching “${state.search.trim()}”: ${results.length}${results.length >= 50 ? "+" : ""}`}</h3>
              <button type="button" id="search-clear" class="link" onClick={() => { onSearch(""); searchTickets(""); }}>
                Clear
              </button>
            </div>
            <ul>
              {results.map((ticket) => (
                <TicketCard key={ticket.id} ticket={ticket} found />
              ))}
              {!results.length && <li class="none">No ticket matches, open or closed.</li>}
            </ul>
          </section>
        )}
        <ul id="queue" aria-live="polite" hidden={state.tab !== "queue"}>
          {queue.map((ticket) => (
            <TicketCard key={ticket.id} ticket={ticket} claimable />
          ))}
          {!queue.length && <li class="none">{state.search ? "No waiting ticket matches." : "Nobody is waiting."}</li>}
        </ul>
        <ul id="mine" hidden={state.tab !== "mine"}>
          {mine.map((ticket) => (
            <TicketCard key={ticket.id} ticket={ticket} />
          ))}
          {!mine.length && <li class="none">{state.search ? "None of yours matches." : "You hold no conversation."}</li>}
        </ul>
        {supervisor && (
          <ul id="all-open" hidden={state.tab !== "all"}>
            {all.map((ticket) => (
              <TicketCard key={ticket.id} ticket={ticket} claimable={ticket.status === "waiting"} />
            ))}
          </ul>
        )}
      </div>
    </aside>
  );
}
