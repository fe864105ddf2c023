// The list that "/" opens in the reply box: the team's saved replies, filtered by what follows the slash.
export function matchingCanned(replies, term) {
  const needle = term.toLowerCase();
  return replies.filter((reply) =>
    [reply.shortcut, reply.title, reply.text].some((field) => (field || "").toLowerCase().includes(needle)),
  );
}

export function CannedMenu({ replies, highlighted, onPick, onHover }) {
  return (
    <ul id="canned-menu" role="listbox" aria-label="Canned replies">
      {replies.length === 0 && <li class="none">No canned reply matches.</li>}
      {replies.map((reply, index) => (
        <li
          key={reply.id}
          role="option"
          class={"canned-option" + (index === highlighted ? " highlighted" : "")}
          aria-selected={String(index === highlighted)}
          data-shortcut={reply.shortcut}
          onMouseDown={(event) => {
            event.preventDefault(); // keeps the focus in the reply box
            onPick(reply);
          }}
          onMouseEnter={() => onHover(index)}
        >
          <span class="shortcut">/{reply.shortcut}</span> <span class="title">{reply.title}</span>
          <span class="preview-text">{reply.text}</span>
        </li>
      ))}
    </ul>
  );
}
