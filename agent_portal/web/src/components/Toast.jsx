import { useStore } from "../store.js";

export function Toast() {
  const { toast } = useStore();
  return (
    <p id="toast" role="status" class={toast.shown ? "show" : ""}>
      {toast.text}
    </p>
  );
}
