// Copies the browser builds of the npm dependencies into static/vendor/ (never committed).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = {
  "htmx.org/dist/htmx.min.js": "htmx.min.js",
  "sortablejs/Sortable.min.js": "Sortable.min.js",
  "chart.js/dist/chart.umd.js": "chart.umd.js",
};
const out = join(root, "static", "vendor");
mkdirSync(out, { recursive: true });
for (const [src, dest] of Object.entries(files)) {
  copyFileSync(join(root, "node_modules", src), join(out, dest));
  console.log(`static/vendor/${dest}`);
}
