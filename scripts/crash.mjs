#!/usr/bin/env node
// Longer crash-safety run: `npm run crash -- 200 [seed]` (SIGKILL iterations; CI runs 20).
import { spawnSync } from 'node:child_process';

const [iterations = '200', seed] = process.argv.slice(2);
const env = { ...process.env, HALFTONE_CRASH_ITERATIONS: iterations, ...(seed === undefined ? {} : { HALFTONE_CRASH_SEED: seed }) };
// No per-test timeout: a long run takes as long as it takes.
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-timeout=0', 'test/security/crash-doctor.test.ts'], { stdio: 'inherit', env, cwd: new URL('..', import.meta.url).pathname });
process.exit(res.status ?? 1);
