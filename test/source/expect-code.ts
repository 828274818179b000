/** Shared by the source-fetcher suites: awaits a promise that must reject with a coded AppError. */
import assert from 'node:assert/strict';
import { AppError } from '../../src/core/errors.js';

export async function expectCode(p: Promise<unknown>, code: string): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected AppError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, `${err.code}: ${err.publicMessage}`);
    return err;
  }
  assert.fail(`expected ${code}, but the fetch succeeded`);
}
