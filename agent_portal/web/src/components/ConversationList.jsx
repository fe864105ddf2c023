import { lists, set, useStore } from "../store.js";
import { TicketCard } from "./TicketCard.jsx";

export function ConversationList() {
  const state = useStore();
  const { queue, mine, all, waitingCount, mineCount } = lists();
  const supervisor = Boolean(state.agent?.is_supervisor);
  const mineUnread = mine.reduce((sum, t) => sum + (state.unread.get(t.id) || 0), 0);
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
        onInput={(e) => set({ search: e.currentTarget.value })}
      />
      <div class="lists">
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
