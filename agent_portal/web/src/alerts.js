// Alerts: the tab title's count, and (opted in from a click) a short sound and a browser notification for a new
// ticket in the agent's queue or a customer message in a conversation they hold.
const BASE_TITLE = "Northwind Support — Agent portal";
const KEY = "portal.alerts";
let audio = null;

export function updateTitle(count) {
  const title = count > 0 ? `(${count}) ${BASE_TITLE}` : BASE_TITLE;
  if (document.title !== title) document.title = title;
}

export const alertsOn = () => localStorage.getItem(KEY) === "on";

// Called from the button's click only: browsers allow the permission prompt and sound from a user gesture.
export async function toggleAlerts() {
  if (alertsOn()) {
    localStorage.removeItem(KEY);
    return false;
  }
  localStorage.setItem(KEY, "on");
  audio = audio || new (window.AudioContext || window.webkitAudioContext)();
  if (audio.state === "suspended") await audio.resume().catch(() => {});
  if ("Notification" in window && Notification.permission === "default") await Notification.requestPermission().catch(() => {});
  beep();
  return true;
}

export function beep() {
  if (!alertsOn()) return;
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    const now = audio.currentTime;
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.type = "sine";
    tone.frequency.setValueAtTime(880, now);
    tone.frequency.setValueAtTime(660, now + 0.12);
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.2, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.3);
    tone.connect(gain).connect(audio.destination);
    tone.start(now);
    tone.stop(now + 0.32);
  } catch {
    // no sound on this browser; the title and badges still tell
  }
}

function notifyBrowser(title, body, tag) {
  if (!alertsOn() || !("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const note = new Notification(title, { body, tag }); // shown as plain text by the browser
    note.onclick = () => {
      window.focus();
      note.close();
    };
  } catch {
    // some browsers only allow notifications from a service worker
  }
}

export function alertNewTicket(ticket) {
  beep();
  notifyBrowser("New ticket in your queue", ticket.summary || ticket.skills.join("/"), `ticket-${ticket.id}`);
}

export function alertCustomerMessage(ticket, content) {
  beep();
  notifyBrowser(`Customer message${ticket ? ` · ticket ${ticket.id}` : ""}`, content, ticket ? `message-${ticket.id}` : undefined);
}
