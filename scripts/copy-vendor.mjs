// Copies the browser builds of the npm dependencies into static/vendor/ (never committed).
//
// A copied file that names a source map (`//# sourceMappingURL=…`) gets its map copied beside
// it, or the reference stripped when the package ships none: Django's manifest storage
// rewrites every such reference in production and fails on one that points nowhere.
// Development-only packages (axe-core, for the browser tests) are copied when installed and
// skipped when not (`npm ci --omit=dev` in the image).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = {
  "htmx.org/dist/htmx.min.js": { dest: "htmx.min.js" },
  "sortablejs/Sortable.min.js": { dest: "Sortable.min.js" },
  "chart.js/dist/chart.umd.js": { dest: "chart.umd.js" },
  "axe-core/axe.min.js": { dest: "axe.min.js", optional: true },
};
const MAP_REF = /^[ \t]*\/[/*][#@][ \t]*sourceMappingURL=([^\s*]+)[ \t]*(?:\*\/)?[ \t]*$/gm;

const out = join(root, "static", "vendor");
mkdirSync(out, { recursive: true });
for (const [src, { dest, optional }] of Object.entries(files)) {
  const from = join(root, "node_modules", src);
  if (!existsSync(from)) {
    if (optional) {
      console.log(`static/vendor/${dest} skipped (development package not installed)`);
      continue;
    }
    throw new Error(`${from} is missing: run \`npm ci\` first`);
  }
  let text = readFileSync(from, "utf8");
  text = text.replace(MAP_REF, (line, ref) => {
    const map = join(dirname(from), ref);
    if (!ref.includes("/") && !ref.startsWith("data:") && existsSync(map)) {
      const mapDest = `${dest}.map`;
      copyFileSync(map, join(out, mapDest));
      console.log(`static/vendor/${mapDest}`);
      return line.replace(ref, mapDest);
    }
    return ""; // no map shipped beside the file: drop the dangling reference
  });
  writeFileSync(join(out, dest), text);
  console.log(`static/vendor/${basename(dest)}`);
}
