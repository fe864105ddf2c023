// A supervisor's editor of the team's canned replies: create, edit, delete.
import { useState } from "preact/hooks";
import { deleteCanned, saveCanned, set, useStore } from "../store.js";

const EMPTY = { id: null, shortcut: "", title: "", text: "" };

export function CannedDialog() {
  const state = useStore();
  const [form, setForm] = useState(EMPTY);
  const [error, setError] = useState("");
  if (!state.cannedDialog) return null;
  const field = (name) => (event) => setForm({ ...form, [name]: event.currentTarget.value });
  const close = () => {
    setForm(EMPTY);
    setError("");
    set({ cannedDialog: false });
  };
  const save = async (event) => {
    event.preventDefault();
    setError("");
    const fields = { shortcut: form.shortcut.trim().toLowerCase(), title: form.title.trim(), text: form.text.trim() };
    if (form.id) fields.id = form.id;
    const ack = await saveCanned(fields);
    if (ack.ok) setForm(EMPTY);
    else setError(ack.error);
  };
  return (
    <div class="overlay" onKeyDown={(event) => event.key === "Escape" && close()}>
      <section id="canned-dialog" class="card dialog" role="dialog" aria-modal="true" aria-labelledby="canned-heading">
        <div class="conversation-head">
          <h2 id="canned-heading">Canned replies</h2>
          <button type="button" id="canned-close" class="link" onClick={close}>
            Close
          </button>
        </div>
        <ul id="canned-items">
          {state.canned.length === 0 && <li class="none">No canned reply yet.</li>}
          {state.canned.map((reply) => (
            <li key={reply.id} class="canned-item" data-shortcut={reply.shortcut}>
              <div>
                <span class="shortcut">/{reply.shortcut}</span> <span class="title">{reply.title}</span>
                <div class="preview-text">{reply.text}</div>
              </div>
              <div class="actions">
                <button type="button" class="canned-edit" onClick={() => setForm({ id: reply.id, shortcut: reply.shortcut, title: reply.title || "", text: reply.text })}>
                  Edit
                </button>
                <button type="button" class="canned-delete link" onClick={() => deleteCanned(reply).then(() => form.id === reply.id && setForm(EMPTY))}>
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
        <form id="canned-form" onSubmit={save}>
          <h3>{form.id ? `Edit /${form.shortcut}` : "New canned reply"}</h3>
          <label>
            Shortcut (letters, digits, dashes)
            <input id="canned-shortcut" required maxLength={32} pattern="[a-z0-9][a-z0-9-]*" value={form.shortcut} onInput={field("shortcut")} />
          </label>
          <label>
            Title
            <input id="canned-title" maxLength={80} value={form.title} onInput={field("title")} />
          </label>
          <label>
            Text ({"{name}"}, {"{email}"}, {"{order_number}"}… are filled from the customer's facts)
            <textarea id="canned-text" required rows={4} maxLength={4000} value={form.text} onInput={field("text")} />
          </label>
          <p id="canned-error" class="error" role="alert">
            {error}
          </p>
          <div class="actions">
            <button type="submit" id="canned-save">
              Save
            </button>
            {form.id && (
              <button type="button" id="canned-new" class="link" onClick={() => setForm(EMPTY)}>
                New instead
              </button>
            )}
          </div>
        </form>
      </section>
    </div>
  );
}
