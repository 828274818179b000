#!/usr/bin/env node
// Longer fuzz run: `npm run fuzz -- --runs 100000 [--seed N] [--http-runs N]`.
// Runs the security fuzz suites (parsers, signature verifiers, HTTP) with more cases than CI.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '100000' }, seed: { type: 'string' }, 'http-runs': { type: 'string' } } });
const env = { ...process.env, HALFTONE_FUZZ_RUNS: values.runs };
if (values.seed !== undefined) env.HALFTONE_FUZZ_SEED = values.seed;
env.HALFTONE_HTTP_FUZZ_RUNS = values['http-runs'] ?? String(Math.min(20000, Math.round(Number(values.runs) / 10)));
// No per-test timeout: a long run takes as long as it takes.
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-timeout=0', 'test/security/fuzz-parsers.test.ts', 'test/security/fuzz-http.test.ts'], { stdio: 'inherit', env, cwd: new URL('..', import.meta.url).pathname });
process.exit(res.status ?? 1);
