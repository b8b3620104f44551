// A small static server for www/ on the loopback interface: correct MIME types (wasm included),
// no directory listings, nothing outside the root; cross-origin isolated (COOP/COEP), so the page
// runs the threaded build. `node scripts/serve.mjs [--port N]`; also
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

/**
 * Serves `root` (and `extra`: URL path → file outside it). `onRequest(method, path)` sees every
 * request (the tests count downloads with it). `isolate: false` leaves out the COOP/COEP headers.
 */
export function startServer({ root = WWW, host = '127.0.0.1', port = 8000, extra = {}, onRequest, isolate = true } = {}) {
  root = resolve(root);
  const server = createServer(async (req, res) => {
    onRequest?.(req.method, (req.url || '/').split('?')[0]);
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
    res.writeHead(200, {
      'Content-Type': MIME[extname(file).toLowerCase()] || 'application/octet-stream',
      'Content-Length': stat.size,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      // Cross-origin isolation: SharedArrayBuffer, so the page can run the threaded build.
      // (`isolate: false`: a plain static server, as a docs site that cannot send them.)
      ...(isolate ? ISOLATION : {}),
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
