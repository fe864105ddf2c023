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
