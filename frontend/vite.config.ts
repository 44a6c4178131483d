/// <reference types="vitest/config" />
// Builds the dashboard into the Python package (`baton serve` serves it at `/`).
// One JS and one CSS bundle, no source maps: the output is committed, so it stays small.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const target = process.env.BATON_URL ?? "http://127.0.0.1:8765";
// Development only: a key for servers without cookie sessions (never in the build).
const devKey = process.env.BATON_DEV_KEY;

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../src/baton/dashboard/static",
    emptyOutDir: true,
    sourcemap: false,
    cssCodeSplit: false,
    assetsDir: "assets",
  },
  server: {
    proxy: {
      "/api": {
        target,
        changeOrigin: true,
        configure: (proxy) => {
          if (devKey) {
            proxy.on("proxyReq", (req) => req.setHeader("Authorization", `Bearer ${devKey}`));
          }
        },
      },
    },
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
