// The agent portal page: Preact, bundled by Vite into agent_portal/static/portal/ (npm run build).
import { render } from "preact";
import { App } from "./components/App.jsx";
import { connect, state } from "./store.js";
import "./portal.css";

render(<App />, document.getElementById("app"));
if (state.token) connect();
