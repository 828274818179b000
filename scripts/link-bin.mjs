#!/usr/bin/env node
// Links this package's own CLI into node_modules/.bin so that `npx halftone` works in a checkout
// (npm links the bins of dependencies there, not the root package's own).
import { mkdirSync, rmSync, symlinkSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const binDir = join(root, 'node_modules', '.bin');
const link = join(binDir, 'halftone');
mkdirSync(binDir, { recursive: true });
rmSync(link, { force: true });
symlinkSync(join('..', '..', 'bin', 'halftone.js'), link);
chmodSync(join(root, 'bin', 'halftone.js'), 0o755);
