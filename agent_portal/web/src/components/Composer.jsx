import { useEffect, useRef, useState } from "preact/hooks";
import { handBack, holds, requestDraft, resolve, SKILLS, submitReply, transfer, typed, useStore } from "../store.js";

export function Composer() {
  const state = useStore();
  const holding = holds(state.openTicket) && !state.preview;
  const [requesting, setRequesting] = useState(false);
  const box = useRef(null);
  const people = [...state.online.entries()].filter(([name, away]) => !away && name !== state.agent?.name).map(([name]) => name).sort();
  // "Edit in reply box" puts the draft here: the cursor follows it.
  useEffect(() => {
    if (state.replyFromDraft && box.current) box.current.focus();
  }, [state.replyFromDraft]);
  const onSubmit = (event) => {
    event.preventDefault();
    submitReply();
  };
  // Enter sends, Shift+Enter starts a new line (as in every chat tool agents know).
  const onKeyDown = (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitReply();
    }
  };
  const onRequest = async () => {
    setRequesting(true);
    await requestDraft();
    setRequesting(false);
  };
  return (
    <form id="reply-form" onSubmit={onSubmit}>
      <textarea
        id="reply-text"
        ref={box}
        rows={3}
        maxLength={4000}
        placeholder={holding ? "Write to the customer… (Enter sends, Shift+Enter for a new line)" : "Claim the ticket to reply"}
        disabled={!holding}
        value={state.reply}
        onInput={(event) => typed(event.currentTarget.value)}
        onKeyDown={onKeyDown}
      />
      <div class="actions">
        <button type="submit" id="reply-send" disabled={!holding}>
          Send
        </button>
        <select id="transfer-skill" aria-label="Transfer to" disabled={!holding} value="" onChange={(event) => {
          const value = event.currentTarget.value;
          event.currentTarget.value = "";
          transfer(value);
        }}>
          <option value="">Transfer to…</option>
          <optgroup label="A team's queue">
            {SKILLS.map((skill) => (
              <option key={skill} value={`skill:${skill}`}>
                {skill}
              </option>
            ))}
          </optgroup>
          {people.length > 0 && (
            <optgroup label="An available agent">
              {people.map((name) => (
                <option key={name} value={`agent:${name}`}>
                  {name}
                </option>
              ))}
            </optgroup>
          )}
        </select>
        <button type="button" id="draft-request" disabled={!holding || requesting} onClick={onRequest}>
          New copilot draft
        </button>
        <button type="button" id="hand-back" disabled={!holding} onClick={handBack}>
          Hand back to assistant
        </button>
        <button type="button" id="resolve" disabled={!holding} onClick={resolve}>
          Resolve
        </button>
      </div>
    </form>
  );
}
