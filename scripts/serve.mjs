// A small static server for www/ on the loopback interface: correct MIME types (wasm included),
// no directory listings, nothing outside the root; cross-origin isolated (COOP/COEP), so the page
// runs the threaded build; ETag and Last-Modified on every file, and 304 Not Modified for a
// conditional GET whose validator still matches (the page revalidates its cached models so). `node scripts/serve.mjs [--port N]`; also
// imported by the end-to-end tests and the stream benchmark (`startServer({ port: 0 })`).
import { createServer } from 'node:http';
import { createReadStream, promises as fs } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WWW = resolve(fileURLToPath(new URL('../www', import.meta.url)));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** The headers that make a page cross-origin isolated (served with every file). */
export const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/// Maps a URL path to a file under `root`, or null when it would leave the root.
function resolvePath(root, urlPath) {
  let p;
  try {
    p = decodeURIComponent(urlPath.split('?')[0].split('#')[0]);
  } catch {
    return null;
  }
  if (p.includes('\0')) return null;
  if (p.endsWith('/')) p += 'index.html';
  const full = normalize(join(root, p));
  return full === root || full.startsWith(root + sep) ? full : null;
}

/** A file's validators: a strong ETag from its size and modification time, and that time. */
export function validators(stat) {
  return {
    ETag: `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`,
    'Last-Modified': stat.mtime.toUTCString(),
  };
}

/**
 * Whether a GET with `headers` may be answered 304 for a file with `tags` (RFC 9110 13.2.2:
 * If-None-Match decides when present, with the weak comparison; else If-Modified-Since, to the
 * second).
 */
export function notModified(headers, tags, mtimeMs) {
  const inm = headers['if-none-match'];
  if (inm !== undefined) {
    const bare = (t) => t.trim().replace(/^W\//, '');
    return inm.trim() === '*' || inm.split(',').some((t) => bare(t) === bare(tags.ETag));
  }
  const ims = Date.parse(headers['if-modified-since'] ?? '');
  return Number.isFinite(ims) && Math.floor(mtimeMs / 1000) * 1000 <= ims;
}

/**
 * Serves `root` (and `extra`: URL path → file outside it). `onRequest(method, path)` sees every
 * request, `onResponse(method, path, status)` every answer (the tests count downloads and 304s
 * with them). `isolate: false` leaves out the COOP/COEP headers.
 */
export function startServer({ root = WWW, host = '127.0.0.1', port = 8000, extra = {}, onRequest, onResponse, isolate = true } = {}) {
  root = resolve(root);
  const server = createServer(async (req, res) => {
    const path = (req.url || '/').split('?')[0];
    onRequest?.(req.method, path);
    res.on('finish', () => onResponse?.(req.method, path, res.statusCode));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const urlPath = req.url || '/';
    // Extra routes (the benchmark serves a generated file from outside www/).
    const extraPath = extra[urlPath.split('?')[0]];
    const file = extraPath || resolvePath(root, urlPath);
    if (!file) {
      res.writeHead(400).end('bad path');
      return;
    }
    let stat;
    try {
      stat = await fs.stat(file);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found');
      return;
    }
    if (!stat.isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found');
      return;
    }
    const tags = validators(stat);
    const common = {
      ...tags,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      // Cross-origin isolation: SharedArrayBuffer, so the page can run the threaded build.
      // (`isolate: false`: a plain static server, as a docs site that cannot send them.)
      ...(isolate ? ISOLATION : {}),
    };
    if (notModified(req.headers, tags, stat.mtimeMs)) {
      res.writeHead(304, common).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': MIME[extname(file).toLowerCase()] || 'application/octet-stream',
      'Content-Length': stat.size,
      ...common,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: actual } = server.address();
      resolvePromise({ server, url: `http://${host}:${actual}/` });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--port');
  const port = Number(i > 0 ? process.argv[i + 1] : process.env.PORT || 8000);
  try {
    await fs.access(join(WWW, 'pkg', 'bitlens_bg.wasm'));
  } catch {
    console.error('serve: www/pkg is missing; run `npm start` (it builds the wasm first)');
    process.exit(1);
  }
  const { url } = await startServer({ port });
  console.log(`bitlens: serving ${WWW} at ${url}  (Ctrl-C to stop)`);
}
