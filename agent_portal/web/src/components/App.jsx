import { useStore } from "../store.js";
import { CannedDialog } from "./CannedDialog.jsx";
import { Conversation } from "./Conversation.jsx";
import { ConversationList } from "./ConversationList.jsx";
import { Header } from "./Header.jsx";
import { LoginForm } from "./LoginForm.jsx";
import { SidePanel } from "./SidePanel.jsx";
import { Toast } from "./Toast.jsx";

export function App() {
  const state = useStore();
  if (!state.token) return <LoginForm />;
  // Three panes side by side; on a narrow screen, one at a time (data-view), with back buttons.
  return (
    <section id="portal-view">
      <Header />
      <main id="panes" data-view={state.view}>
        <ConversationList />
        <Conversation />
        <SidePanel />
      </main>
      <CannedDialog />
      <Toast />
    </section>
  );
}
