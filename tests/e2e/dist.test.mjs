// `npm run dist` and `npm pack`: the prebuilt folder holds the element and API modules, the
// worker, every wasm build of www/pkg*, the two built-in models and nothing that needs a build
// step, with only relative internal URLs; the tarball holds exactly dist/ (plus package.json
// and the README). The folder at work on a static site: element.test.mjs, api.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, buildDist, repoPath } from './browser.mjs';

const walk = (dir) => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));

test('npm run dist: every module, the worker, each wasm build and the models; relative URLs only', { timeout: 300_000 }, () => {
  const dist = buildDist();
  const files = walk(dist).map((f) => relative(dist, f)).sort();
  for (const f of ['bit-lens.js', 'api.js', 'protocol.js', 'worker.js', 'config.js', 'index.html', 'models/shakespeare-bitnet.gguf', 'models/shakespeare-bitnet-prescaled.gguf']) {
    assert.ok(files.includes(f), `dist/${f}`);
  }
  const builds = readdirSync(repoPath('www')).filter((d) => d.startsWith('pkg'));
  assert.ok(builds.length >= 1);
  for (const d of builds) {
    assert.ok(files.includes(`${d}/bitlens_bg.wasm`), `dist/${d}/bitlens_bg.wasm`);
    assert.ok(files.includes(`${d}/bitlens.js`), `dist/${d}/bitlens.js`);
  }
  // Every import and URL of our modules is relative (./ or ../), resolved from import.meta.url.
  for (const f of files.filter((x) => x.endsWith('.js') && !x.startsWith('pkg'))) {
    const src = readFileSync(join(dist, f), 'utf8');
    for (const [, spec] of src.matchAll(/(?:from |import\()\s*'([^']+)'/g)) assert.match(spec, /^\.\.?\//, `${f}: import '${spec}'`);
    for (const [, url] of src.matchAll(/new URL\('([^']+)', import\.meta\.url\)/g)) assert.match(url, /^\.\.?\//, `${f}: URL '${url}'`);
  }
});

test('npm pack: a tarball of dist/', { timeout: 300_000 }, () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  const [pack] = JSON.parse(out);
  const names = pack.files.map((f) => f.path).sort();
  assert.equal(pack.filename, 'bitlens-0.1.0.tgz');
  assert.ok(names.includes('dist/bit-lens.js'));
  assert.ok(names.includes('dist/pkg/bitlens_bg.wasm'));
  assert.ok(names.includes('package.json'));
  assert.deepEqual(names.filter((n) => !n.startsWith('dist/') && n !== 'package.json' && n !== 'README.md'), []);
  const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8'));
  assert.equal(pkg.exports['.'], './dist/bit-lens.js');
  assert.deepEqual(pkg.files, ['dist/']);
  assert.equal(pkg.scripts.prepack, 'node scripts/dist.mjs');
});
