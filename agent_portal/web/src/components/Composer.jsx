import { useEffect, useRef, useState } from "preact/hooks";
import { fillCanned, handBack, holds, requestDraft, resolve, SKILLS, submitReply, transfer, typed, useStore } from "../store.js";
import { CannedMenu, matchingCanned } from "./CannedMenu.jsx";

const SLASH = /(^|\s)\/([a-z0-9-]*)$/i; // "/" at the start of the box or after a space, up to the cursor

export function Composer() {
  const state = useStore();
  const holding = holds(state.openTicket) && !state.preview && state.openTicket?.status === "assigned";
  const [requesting, setRequesting] = useState(false);
  const [highlighted, setHighlighted] = useState(0);
  const [dismissed, setDismissed] = useState(null); // the reply text the agent closed the menu on
  const slash = holding ? state.reply.match(SLASH) : null;
  const menuOpen = Boolean(slash) && dismissed !== state.reply;
  const options = menuOpen ? matchingCanned(state.canned, slash[2]) : [];
  const pick = async (reply) => {
    const text = await fillCanned(reply);
    if (text === null) return;
    const current = state.reply.match(SLASH);
    const before = current ? state.reply.slice(0, current.index + current[1].length) : state.reply;
    typed(before + text);
    setHighlighted(0);
    box.current?.focus();
  };
  const box = useRef(null);
  // Available colleagues who have one of the ticket's skills (the transfer skips the skill check).
  const fits = (name) => (state.skillsOf.get(name) || []).some((skill) => (state.openTicket?.skills || []).includes(skill));
  const people = [...state.online.entries()]
    .filter(([name, away]) => !away && name !== state.agent?.name && fits(name))
    .map(([name]) => name)
    .sort();
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
    if (menuOpen && options.length) {
      const moves = { ArrowDown: 1, ArrowUp: -1 };
      if (event.key in moves) {
        event.preventDefault();
        setHighlighted((highlighted + moves[event.key] + options.length) % options.length);
        return;
      }
      if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
        event.preventDefault();
        pick(options[Math.min(highlighted, options.length - 1)]);
        return;
      }
    }
    if (menuOpen && event.key === "Escape") {
      event.preventDefault();
      setDismissed(state.reply);
      return;
    }
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
      {menuOpen && (
        <CannedMenu replies={options} highlighted={Math.min(highlighted, Math.max(0, options.length - 1))} onPick={pick} onHover={setHighlighted} />
      )}
      <textarea
        id="reply-text"
        ref={box}
        rows={3}
        maxLength={4000}
        placeholder={holding ? "Write to the customer… (Enter sends, Shift+Enter for a new line, / for a canned reply)" : "Claim the ticket to reply"}
        aria-expanded={String(menuOpen)}
        disabled={!holding}
        value={state.reply}
        onInput={(event) => {
          typed(event.currentTarget.value);
          setHighlighted(0);
        }}
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
