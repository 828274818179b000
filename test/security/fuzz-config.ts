/**
 * Fuzz run size and seed: fixed and small in CI; `npm run fuzz -- --runs 100000 [--seed N]` sets
 * HALFTONE_FUZZ_RUNS / HALFTONE_FUZZ_SEED for a longer run.
 */
export const FUZZ_RUNS = Number(process.env['HALFTONE_FUZZ_RUNS'] ?? 2000);
export const FUZZ_SEED = Number(process.env['HALFTONE_FUZZ_SEED'] ?? 424242);
/** HTTP requests per HTTP fuzz run (each is a real request, so fewer than parser runs). */
export const HTTP_FUZZ_RUNS = Number(process.env['HALFTONE_HTTP_FUZZ_RUNS'] ?? Math.min(400, Math.max(100, Math.round(FUZZ_RUNS / 5))));
