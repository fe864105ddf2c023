import { useState } from "preact/hooks";
import { login, useStore } from "../store.js";

export function LoginForm() {
  const state = useStore();
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    await login(name, password);
    setBusy(false);
  };
  return (
    <section id="login-view">
      <form id="login-form" class="card" onSubmit={submit}>
        <h1>Agent portal</h1>
        <label>
          Name{" "}
          <input id="login-name" name="name" autocomplete="username" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Password{" "}
          <input
            id="login-password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <button type="submit" id="login-button" disabled={busy}>
          Log in
        </button>
        <p id="login-error" class="error" role="alert">
          {state.loginError}
        </p>
      </form>
    </section>
  );
}
