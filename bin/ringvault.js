#!/usr/bin/env node
// The box runs the compiled JavaScript in dist/ (npm run build; install.sh builds it).
// A development checkout without a build falls back to the TypeScript sources through tsx.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/index.js', import.meta.url);
if (existsSync(dist)) {
  await import(dist.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error('ringvault: dist/ is missing and tsx is not installed; run `npm run build` (or `npm install`) in the ringvault folder first.');
    process.exit(2);
  }
  register();
  await import('../src/cli/index.ts');
}
