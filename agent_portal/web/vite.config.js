// Builds the agent portal page (Preact) into agent_portal/static/portal/, which the app serves at /portal.
// `npm run build` from the repository root; the output is not committed.
import { fileURLToPath } from "node:url";
import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  // The app mounts agent_portal/static at /portal/static, so the built files load from there.
  base: "/portal/static/portal/",
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: fileURLToPath(new URL("../static/portal", import.meta.url)),
    emptyOutDir: true,
    // The page's Content-Security-Policy allows no inline script or style: no preload polyfill, no inlined assets.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    target: "es2020",
  },
});
