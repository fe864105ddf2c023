// A style sheet of the page's own, with these rules (more can be set later through the returned element).
function addStyle(rules) {
  const style = document.createElement("style");
  style.textContent = rules;
  document.head.append(style);
  return style;
}

// Runs `update` once per animation frame after the chat's DOM changes (React re-renders often).
function onEveryChange(update) {
  let scheduled = false;
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(() => {
        scheduled = false;
        update();
      });
    }
  };
  new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true });
  return schedule;
}

// Tells the agent when the customer is typing. Chainlit's composer has no typing event of its own,
// so this watches its input box and reports the state (not the text) to the app, at most every 2 s.
(function () {
  let typing = false;
  let idleTimer = null;
  let lastSent = 0;

  function report(isTyping) {
    typing = isTyping;
    lastSent = Date.now();
    fetch("/chat/typing", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ is_typing: isTyping, path: location.pathname }),
    }).catch(() => {});
  }

  document.addEventListener("input", (event) => {
    if (!event.target || event.target.id !== "chat-input") return;
    if (!typing || Date.now() - lastSent > 2000) report(true);
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => report(false), 3000);
  }, true);

  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && typing && event.target && event.target.id === "chat-input") {
      clearTimeout(idleTimer);
      report(false);
    }
  }, true);
})();

// A character counter near the limit, and no sending over it: the server would refuse the message, and
// the customer would have to find their text again. The limit is the server's (GET /chat/limits).
(function () {
  let limit = null;
  fetch("/chat/limits", { credentials: "same-origin" })
    .then((response) => response.json())
    .then((body) => { limit = body.max_message_chars; })
    .catch(() => {});

  function counter() {
    let box = document.getElementById("ee-char-counter");
    if (!box) {
      box = document.createElement("div");
      box.id = "ee-char-counter";
      box.setAttribute("role", "status");
      box.style.cssText = "position:fixed;right:24px;bottom:92px;padding:2px 8px;border-radius:6px;font-size:12px;z-index:50;background:#f1f5f9;color:#334155;";
      document.body.append(box);
    }
    return box;
  }

  function tooLong() {
    const input = document.getElementById("chat-input");
    return Boolean(limit && input && (input.value || input.textContent || "").length > limit);
  }

  function show() {
    const input = document.getElementById("chat-input");
    if (!limit || !input) return;
    const length = (input.value || input.textContent || "").length;
    const box = counter();
    box.hidden = length < limit * 0.8;
    box.textContent = length > limit
      ? `${length.toLocaleString()} / ${limit.toLocaleString()} characters: shorten it to send`
      : `${length.toLocaleString()} / ${limit.toLocaleString()}`;
    box.style.background = length > limit ? "#fee2e2" : "#f1f5f9";
    box.style.color = length > limit ? "#991b1b" : "#334155";
  }

  document.addEventListener("input", (event) => {
    if (event.target && event.target.id === "chat-input") show();
  }, true);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && event.target && event.target.id === "chat-input" && tooLong()) {
      event.preventDefault();
      event.stopImmediatePropagation();
      show();
    }
  }, true);
  document.addEventListener("click", (event) => {
    if (event.target && event.target.closest && event.target.closest("#chat-submit") && tooLong()) {
      event.preventDefault();
      event.stopImmediatePropagation();
      show();
    }
  }, true);
})();

// Barge-in: Enter while an answer streams stops it (the stop button's own path, so the model's stream is
// closed upstream and the partial answer kept) and then sends the new message as the next turn.
(function () {
  let waiting = false;

  function sendWhenFree(started) {
    const submit = document.querySelector("#chat-submit:not([disabled])");
    if (submit) {
      waiting = false;
      submit.click();
    } else if (Date.now() - started < 10000) {
      setTimeout(() => sendWhenFree(started), 25);
    } else {
      waiting = false;
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || !event.target || event.target.id !== "chat-input") return;
    const stop = document.getElementById("stop-button");
    const input = event.target;
    if (!stop || !(input.value || "").trim()) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (waiting) return;
    waiting = true;
    stop.click();
    sendWhenFree(Date.now());
  }, true);
})();

// The footer says who answers now (the app tells the page with each change): the assistant (Chainlit's
// own wording), the queue for a person, or a person.
(function () {
  const FOOTERS = {
    waiting: "You're in the queue for a person from our team. What you write here reaches them.",
    person: "You're chatting with a person from our team.",
  };
  const style = addStyle("");

  window.addEventListener("message", (event) => {
    if (event.source !== window || !event.data || typeof event.data.escalation_mode !== "string") return;
    const footer = FOOTERS[event.data.escalation_mode];
    document.body.dataset.escalationMode = event.data.escalation_mode;
    style.textContent = footer
      ? `.watermark > * { display: none !important; } .watermark::after { content: ${JSON.stringify(footer)}; font-size: 0.75rem; opacity: 0.8; }`
      : "";
  });
})();

// Nothing a customer cannot use: no Readme (it is the app's own), no account menu (the customer is known
// by cookie or by the site, so Logout would do nothing), and no copy or rating buttons on Support's lines
// (notices, not answers; their own buttons, such as leaving the queue or the stars, have labels and stay).
// Toasts open below the header instead of over it, and the rating's stars are drawn as stars, in colour.
(function () {
  addStyle(
    "#readme-button, #user-nav-button { display: none !important; }" +
    " [data-sonner-toaster] { top: 72px !important; }" +
    " button[data-ee-stars] { color: #b45309 !important; font-weight: 600; }",
  );

  onEveryChange(() => {
    document.querySelectorAll('[id^="step-"]').forEach((step) => {
      if (!step.querySelector('img[src*="/avatars/support"]')) return;
      step.querySelectorAll("button").forEach((button) => {
        const label = button.textContent.trim();
        if (!label) button.style.display = "none";
        else if (label.startsWith("★")) button.dataset.eeStars = "";  // not a class: React rewrites those
      });
    });
  });
})();

// A time under every message: the stored one for what the page loads from a conversation's history
// (Chainlit's thread API, which only the conversation's customer may read), the moment it arrived for
// the rest. A message the page shows before that answer comes waits for it, and one shown before an
// answer that never came (the history could not be read) gets no time: no time is guessed.
(function () {
  addStyle(
    ".ee-time { display: block; font-size: 11px; line-height: 14px; opacity: 0.6; margin-top: -4px; }" +
    ' [data-step-type="user_message"] > .ee-time { text-align: right; padding-right: 8px; }' +
    ' [data-step-type="assistant_message"] > .ee-time { padding-left: 48px; }',
  );

  const arrived = new Map();  // step id -> when this page first showed it
  const stored = new Map();  // step id -> its createdAt in the conversation's history
  const asked = new Set();  // thread ids whose history's times were asked for
  const settled = new Map();  // ... and answered: thread id -> [when, whether the history was read]

  function threadShown() {
    const match = location.pathname.match(/^\/thread\/([0-9a-f-]{36})$/);
    return match ? match[1] : null;
  }

  function historyTimes(threadId) {
    if (asked.has(threadId)) return;
    asked.add(threadId);
    let read = false;
    fetch(`/project/thread/${threadId}`, { credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(`history: ${response.status}`);
        return response.json();
      })
      .then((thread) => {
        (thread.steps || []).forEach((step) => {
          if (step.id && step.createdAt) stored.set(step.id, new Date(step.createdAt));
        });
        read = true;
      })
      .catch(() => {})
      .finally(() => {
        settled.set(threadId, [new Date(), read]);
        schedule();
      });
  }

  function label(when) {
    const sameDay = when.toDateString() === new Date().toDateString();
    const time = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return sameDay ? time : `${when.toLocaleDateString([], { day: "numeric", month: "short" })}, ${time}`;
  }

  function stamp() {
    const threadId = threadShown();
    if (threadId) historyTimes(threadId);
    const [settledAt, read] = (threadId && settled.get(threadId)) || [null, true];
    const pending = threadId && !settledAt;
    document.querySelectorAll('[data-step-type="user_message"], [data-step-type="assistant_message"]').forEach((step) => {
      const body = step.querySelector('[id^="step-"]');
      if (!body) return;
      const id = body.id.slice("step-".length);
      if (!arrived.has(id)) arrived.set(id, new Date());
      if (pending && !stored.has(id)) return;
      if (!read && !stored.has(id) && arrived.get(id) <= settledAt) return;  // history we could not read
      const when = stored.get(id) || arrived.get(id);
      let time = step.querySelector(":scope > time.ee-time");
      if (!time) {
        time = document.createElement("time");
        time.className = "ee-time";
        step.append(time);
      }
      if (time.dateTime !== when.toISOString()) {
        time.dateTime = when.toISOString();
        time.title = when.toLocaleString();
        time.textContent = label(when);
      }
    });
  }

  const schedule = onEveryChange(stamp);
})();
