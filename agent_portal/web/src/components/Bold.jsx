// **bold** from the help articles as <strong>; every piece is a text child, never HTML.
export function Bold({ text }) {
  return (text || "").split(/\*\*(.+?)\*\*/s).map((part, index) => (index % 2 ? <strong key={index}>{part}</strong> : part));
}
