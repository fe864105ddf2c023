import { claim, openTicket, speaks, state as store, waited } from "../store.js";

export function TicketCard({ ticket, claimable }) {
  const unread = store.unread.get(ticket.id) || 0;
  const classes = ["ticket"];
  if (ticket.frustration >= 0.6) classes.push("hot");
  if (ticket.id === store.current) classes.push("active");
  if (unread) classes.push("unread");
  const onClaim = async (event) => {
    event.stopPropagation();
    await claim(ticket.id);
  };
  return (
    <li class={classes.join(" ")} data-ticket-id={ticket.id} tabIndex={0} onClick={() => openTicket(ticket.id)}
      onKeyDown={(event) => event.key === "Enter" && event.target === event.currentTarget && openTicket(ticket.id)}>
      <div class="tags">
        {ticket.skills.map((skill) => (
          <span class="tag" key={skill}>
            {skill}
          </span>
        ))}
        {ticket.language && ticket.language !== "en" && <span class={"tag" + (speaks(ticket) ? " speaks" : "")}>{ticket.language.toUpperCase()}</span>}
        {store.away.has(ticket.id) && <span class="tag away">customer left</span>}
        {unread > 0 && (
          <span class="badge unread-count" title={`${unread} unread customer message${unread > 1 ? "s" : ""}`}>
            {unread}
          </span>
        )}
      </div>
      <div class="summary">{ticket.summary}</div>
      <div class="meta">
        {`${ticket.reason.replace(/_/g, " ")} · sentiment ${Number(ticket.sentiment).toFixed(2)} · ${ticket.assigned_agent ? "with " + ticket.assigned_agent : "waiting " + waited(ticket)}`}
      </div>
      {claimable && (
        <button type="button" class="claim" disabled={store.claiming.has(ticket.id)} onClick={onClaim}>
          Claim
        </button>
      )}
    </li>
  );
}
