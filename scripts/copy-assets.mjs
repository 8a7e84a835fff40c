#!/usr/bin/env node
// Copies what tsc does not emit but n8n loads from dist/: node icons (SVG) and codex files
// (X.node.json next to X.node.js), and the shared icons/ the credentials point at.
// Usage: node scripts/copy-assets.mjs [outDir]   (default dist; dist-* for private builds)
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, process.argv[2] ?? 'dist');
const wanted = (f) => f.endsWith('.svg') || f.endsWith('.png') || f.endsWith('.node.json');

let copied = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const src = join(dir, name);
    if (statSync(src).isDirectory()) walk(src);
    else if (wanted(name)) {
      const dst = join(outDir, relative(root, src));
      mkdirSync(dirname(dst), { recursive: true });
      copyFileSync(src, dst);
      copied++;
    }
  }
}
for (const d of ['nodes', 'credentials', 'icons']) if (existsSync(join(root, d))) walk(join(root, d));
process.stdout.write(`copy-assets: ${copied} file(s) → ${relative(root, outDir) || '.'}\n`);
