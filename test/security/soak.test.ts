/**
 * The soak run of scripts/soak.ts, bounded for CI: HALFTONE_SOAK_SECONDS (default 60) at
 * saturation with 4 clients. `npm run soak` runs the 10-minute version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak } from '../../scripts/soak.js';

const SECONDS = Number(process.env['HALFTONE_SOAK_SECONDS'] ?? 60);

test(`soak: ${SECONDS} s of valid and hostile requests — no crash, only expected answers, RSS flat, hashes unchanged`, async () => {
  const res = await runSoak({ seconds: SECONDS, concurrency: 4 });
  assert.deepEqual(res.failures, [], JSON.stringify({ unexpected: res.unexpected, rss: res.rssMB, hashMismatches: res.hashMismatches }));
  assert.ok(res.requests > 0);
  assert.ok(res.ok);
});
