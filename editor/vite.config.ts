// The page is built into the Python package, where `nodeisle editor` serves it; the output is not committed.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../src/nodeisle/editor/static",
    emptyOutDir: true,
    // Everything in files: the Content-Security-Policy allows no inline script or style.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
