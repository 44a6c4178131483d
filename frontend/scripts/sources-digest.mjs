// The digest of the dashboard's sources, as baton.dashboard.sources_digest computes it:
// SHA-256 over the sorted paths (src/**, index.html, package.json, package-lock.json,
// vite.config.ts, tsconfig*.json), each adding "<path>\n<size in bytes>\n<content>".
// Usage: node scripts/sources-digest.mjs FRONTEND_DIR  → prints {"sources_sha256", "files"}.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";

const root = process.argv[2] ?? ".";
const TOP = ["index.html", "package.json", "package-lock.json", "vite.config.ts"];

function walk(dir, rel, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const r = `${rel}/${entry.name}`;
    if (entry.isDirectory()) walk(path, r, out);
    else if (entry.isFile()) out.push(r);
  }
}

const files = new Set();
if (existsSync(join(root, "src"))) {
  const found = [];
  walk(join(root, "src"), "src", found);
  found.forEach((f) => files.add(f));
}
for (const name of TOP) if (existsSync(join(root, name)) && statSync(join(root, name)).isFile()) files.add(name);
for (const name of readdirSync(root)) {
  if (/^tsconfig.*\.json$/.test(name) && statSync(join(root, name)).isFile()) files.add(name);
}
// Sort by UTF-8 bytes, as Python's sorted(key=str.encode) does.
const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
const hash = createHash("sha256");
for (const rel of sorted) {
  const content = readFileSync(join(root, rel));
  hash.update(`${rel}\n${content.length}\n`);
  hash.update(content);
}
process.stdout.write(JSON.stringify({ sources_sha256: hash.digest("hex"), files: sorted }, null, 2) + "\n");
