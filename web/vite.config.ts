// The dashboard's build (`npm start` runs it when web/dist is stale) and dev server
// (`npm run dev`: hot reload, RPCs proxied to a running Switchboard at SWITCHBOARD_URL).
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const target = process.env.SWITCHBOARD_URL || "http://localhost:8080";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true },
  server: {
    // RPC paths are /<package>.<Service>/<Method>: every fully qualified service goes to the server.
    proxy: { "^/[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*\\.[A-Z][A-Za-z0-9]*/": { target } },
  },
});
