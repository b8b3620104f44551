// `npm run dist`: the prebuilt folder dist/, everything a docs site needs as static files: the
// element and API modules, the worker, every wasm build the page uses (www/pkg*), the two
// built-in models and the demo page. Nothing in it needs a build step; every internal URL is
// resolved from import.meta.url, so the folder works at any path. Builds www/pkg first when it
// is missing (that needs the Rust toolchain; see the README).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const WWW = join(ROOT, 'www');
const DIST = join(ROOT, 'dist');

if (!existsSync(join(WWW, 'pkg', 'bitlens_bg.wasm'))) {
  console.error('dist: www/pkg is missing; building it (scripts/build.sh)');
  execFileSync(join(ROOT, 'scripts', 'build.sh'), { stdio: 'inherit' });
}

rmSync(DIST, { recursive: true, force: true });
mkdirSync(DIST);
const copied = [];
const copy = (from, to = from) => {
  cpSync(join(WWW, from), join(DIST, to), { recursive: true });
  copied.push(to);
};
for (const f of readdirSync(WWW)) {
  const full = join(WWW, f);
  if (statSync(full).isFile() && /\.(js|css|html)$/.test(f)) copy(f);
}
// Every wasm build: the generated glue, its snippets (the threaded build's pool workers) and
// the .wasm only.
const copyPkg = (d) => {
  mkdirSync(join(DIST, d));
  for (const f of readdirSync(join(WWW, d))) {
    if (statSync(join(WWW, d, f)).isDirectory()) copyPkg(join(d, f));
    else if (/\.(js|wasm)$/.test(f)) copy(join(d, f));
  }
};
for (const d of readdirSync(WWW).filter((d) => d.startsWith('pkg') && statSync(join(WWW, d)).isDirectory())) copyPkg(d);
mkdirSync(join(DIST, 'models'));
for (const f of readdirSync(join(WWW, 'models')).filter((f) => /\.(gguf|md)$/.test(f))) copy(join('models', f));
console.log(`dist: ${copied.length} files in ${DIST}`);
