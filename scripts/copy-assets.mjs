#!/usr/bin/env node
// Copies what tsc does not emit but n8n loads from dist/: node icons (SVG) and codex files
// (X.node.json next to X.node.js), the shared icons/ the credentials point at, and the dashboard.
// Usage: node scripts/copy-assets.mjs [outDir]   (default dist; dist-* for private builds)
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, process.argv[2] ?? 'dist');
const wanted = (f) => f.endsWith('.svg') || f.endsWith('.png') || f.endsWith('.node.json');

let copied = 0;
function walk(dir, all = false) {
  for (const name of readdirSync(dir)) {
    const src = join(dir, name);
    if (statSync(src).isDirectory()) walk(src, all);
    else if (all || wanted(name)) {
      const dst = join(outDir, relative(root, src));
      mkdirSync(dirname(dst), { recursive: true });
      copyFileSync(src, dst);
      copied++;
    }
  }
}
for (const d of ['nodes', 'credentials', 'icons']) if (existsSync(join(root, d))) walk(join(root, d));
// The live dashboard's static files (HTML, JS, CSS), served by the bridge from next to its code.
if (existsSync(join(root, 'streamlit-bridge', 'dashboard'))) walk(join(root, 'streamlit-bridge', 'dashboard'), true);
process.stdout.write(`copy-assets: ${copied} file(s) → ${relative(root, outDir) || '.'}\n`);
