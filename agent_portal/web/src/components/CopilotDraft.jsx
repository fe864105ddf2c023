import { discardDraft, sendDraft, useDraft, useStore } from "../store.js";
import { Bold } from "./Bold.jsx";

export function CopilotDraft() {
  const { draft } = useStore();
  return (
    <div id="copilot" class={"card" + (draft?.stale ? " is-stale" : "")} hidden={!draft}>
      <h3>Copilot draft</h3>
      <p id="draft-stale" class="stale" hidden={!draft?.stale}>
        Out of date: you have replied since this draft was written.
      </p>
      <p id="draft-text">
        <Bold text={draft?.content} />
      </p>
      <div class="actions">
        <button type="button" id="draft-use" onClick={useDraft}>
          Edit in reply box
        </button>
        <button type="button" id="draft-send" onClick={sendDraft}>
          Send as is
        </button>
        <button type="button" id="draft-discard" class="link" onClick={discardDraft}>
          Discard
        </button>
      </div>
    </div>
  );
}
