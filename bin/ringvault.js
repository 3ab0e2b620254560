#!/usr/bin/env node
// The box runs the compiled JavaScript in dist/ (npm run build; install.sh builds it). A development
// checkout that was never built, or whose sources changed since the build, runs src/ through tsx,
// so a stale dist/ never runs code other than what the sources say.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/cli/index.js', import.meta.url);
const built = new URL('../dist/.built', import.meta.url);
const src = fileURLToPath(new URL('../src', import.meta.url));

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const fresh = existsSync(dist) && (!existsSync(src) || (existsSync(built) && statSync(built).mtimeMs >= newestMtime(src)));
if (fresh) {
  await import(dist.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error('ringvault: dist/ is missing or older than src/, and tsx is not installed; run `npm run build` in the ringvault folder first.');
    process.exit(2);
  }
  register();
  await import('../src/cli/index.ts');
}
