/**
 * The dashboard's static files and uPlot's dist files, served by the bridge itself: the machine
 * is offline, so nothing may come from a CDN. Files are read once at start into memory from a
 * fixed allow-list (a directory listing of dashboard/ filtered by extension, plus two named uPlot
 * files), so a request path is only ever a key lookup — no path is joined from user input.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { packageRoot } from '../db/migrate';
import { LIMITS } from '../validator/limits';
import { BASE_HEADERS } from './http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * The dashboard folder: next to this compiled file when the build copied it there (an installed
 * package ships only dist/), else in the source tree (running from dist or dist-* in the repo).
 */
export function dashboardDir(): string {
  const beside = join(__dirname, 'dashboard');
  return existsSync(join(beside, 'index.html')) ? beside : join(packageRoot(), 'streamlit-bridge', 'dashboard');
}

/** uPlot's dist folder, found through Node's resolution (works from any install layout). */
export function uplotDir(): string {
  return dirname(require.resolve('uplot'));
}

function load(path: string): StaticFile {
  const size = statSync(path).size;
  if (size > LIMITS.bridge.maxStaticFileBytes) {
    throw new Error(`static file ${path} is ${size} bytes, over LIMITS.bridge.maxStaticFileBytes`);
  }
  const body = readFileSync(path);
  return { body, type: TYPES[extname(path)] ?? 'application/octet-stream', etag: `"${createHash('sha1').update(body).digest('hex').slice(0, 20)}"` };
}

export class StaticFiles {
  private readonly files = new Map<string, StaticFile>();

  constructor(dir = dashboardDir()) {
    if (!existsSync(join(dir, 'index.html'))) throw new Error(`dashboard files not found in ${dir} (index.html missing)`);
    for (const name of readdirSync(dir)) {
      if (!TYPES[extname(name)] || !/^[a-z0-9][a-z0-9._-]*$/i.test(name)) continue;
      this.files.set(`/dashboard/${name}`, load(join(dir, name)));
    }
    this.files.set('/', this.files.get('/dashboard/index.html')!);
    const up = uplotDir();
    this.files.set('/vendor/uplot/uPlot.iife.min.js', load(join(up, 'uPlot.iife.min.js')));
    this.files.set('/vendor/uplot/uPlot.min.css', load(join(up, 'uPlot.min.css')));
  }

  has(path: string): boolean {
    return this.files.has(path);
  }

  paths(): string[] {
    return [...this.files.keys()];
  }

  serve(req: IncomingMessage, res: ServerResponse, path: string): void {
    const f = this.files.get(path)!;
    if (req.headers['if-none-match'] === f.etag) {
      res.writeHead(304, { ...BASE_HEADERS, ETag: f.etag });
      res.end();
      return;
    }
    res.writeHead(200, {
      ...BASE_HEADERS,
      'Content-Type': f.type,
      'Content-Length': f.body.length,
      // Revalidate every time (cheap 304): a new build must show at once, offline included.
      'Cache-Control': 'no-cache',
      ETag: f.etag,
    });
    res.end(f.body);
  }
}
