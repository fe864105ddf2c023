import { claim, openTicket, speaks, state as store, waited } from "../store.js";

const STATUS = { waiting: "waiting", assigned: "open", resolved: "resolved", handed_back: "handed back" };

export function TicketCard({ ticket, claimable, found }) {
  const unread = store.unread.get(ticket.id) || 0;
  const classes = ["ticket"];
  if (ticket.frustration >= 0.6) classes.push("hot");
  if (ticket.id === store.current) classes.push("active");
  if (unread) classes.push("unread");
  // A search result that is not in this agent's lists (a closed ticket, say) opens from what it says.
  const open = () => openTicket(ticket.id, found ? { fallback: ticket } : {});
  const onClaim = async (event) => {
    event.stopPropagation();
    await claim(ticket.id);
  };
  return (
    <li class={classes.join(" ")} data-ticket-id={ticket.id} tabIndex={0} onClick={open}
      onKeyDown={(event) => event.key === "Enter" && event.target === event.currentTarget && open()}>
      <div class="tags">
        {ticket.skills.map((skill) => (
          <span class="tag" key={skill}>
            {skill}
          </span>
        ))}
        {ticket.language && ticket.language !== "en" && <span class={"tag" + (speaks(ticket) ? " speaks" : "")}>{ticket.language.toUpperCase()}</span>}
        {store.away.has(ticket.id) && <span class="tag away">customer left</span>}
        {found && <span class={`tag status ${ticket.status}`}>{STATUS[ticket.status] || ticket.status}</span>}
        {unread > 0 && (
          <span class="badge unread-count" title={`${unread} unread customer message${unread > 1 ? "s" : ""}`}>
            {unread}
          </span>
        )}
      </div>
      <div class="summary">{ticket.summary}</div>
      <div class="meta">
        {`${ticket.reason.replace(/_/g, " ")} · sentiment ${Number(ticket.sentiment).toFixed(2)} · ${
          ticket.closed_at
            ? `closed ${new Date(ticket.closed_at).toLocaleString()}${ticket.assigned_agent ? " by " + ticket.assigned_agent : ""}`
            : ticket.assigned_agent
              ? "with " + ticket.assigned_agent
              : "waiting " + waited(ticket)
        }`}
      </div>
      {claimable && (
        <button type="button" class="claim" disabled={store.claiming.has(ticket.id)} onClick={onClaim}>
          Claim
        </button>
      )}
    </li>
  );
}
