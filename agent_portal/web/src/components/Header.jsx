import { useState } from "preact/hooks";
import { alertsOn, toggleAlerts } from "../alerts.js";
import { logout, set, setAvailability, useStore } from "../store.js";

export function Header() {
  const state = useStore();
  const agent = state.agent;
  const [alerts, setAlerts] = useState(alertsOn());
  const names = [...state.online.keys()].sort();
  const away = Boolean(agent?.away);
  return (
    <header>
      <strong class="brand">Northwind Support</strong>
      <span id="me">
        {agent
          ? `${agent.name} · ${agent.skills.join(", ")} · ${(agent.languages || ["en"]).join("/").toUpperCase()}${agent.is_supervisor ? " · supervisor" : ""}`
          : ""}
      </span>
      <span id="connection" class="pill">
        {state.connection}
      </span>
      <button
        id="availability"
        type="button"
        class={"availability" + (away ? " away" : "")}
        aria-pressed={String(!away)}
        title="Away: no tickets are assigned to you"
        disabled={!agent}
        onClick={setAvailability}
      >
        {away ? "Away" : "Available"}
      </button>
      <span id="online">{names.length ? `Online: ${names.map((name) => (state.online.get(name) ? `${name} (away)` : name)).join(", ")}` : ""}</span>
      <button
        id="alerts-toggle"
        type="button"
        class="availability"
        aria-pressed={String(alerts)}
        title="A sound and a browser notification for a new ticket in your queue or a customer message"
        onClick={async () => setAlerts(await toggleAlerts())}
      >
        {alerts ? "Alerts on" : "Alerts off"}
      </button>
      <button id="canned-manage" type="button" class="availability" hidden={!agent?.is_supervisor} onClick={() => set({ cannedDialog: true })}>
        Canned replies
      </button>
      <a id="reports-link" class="header-link" href="/portal/reports" hidden={!agent?.is_supervisor}>
        Reports
      </a>
      <button id="logout" type="button" class="link" onClick={logout}>
        Log out
      </button>
    </header>
  );
}
