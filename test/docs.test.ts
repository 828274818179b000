/** The generated docs must match the code: run `npm run docs:gen` after changing ops or errors. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderErrors, renderOperations } from '../scripts/docs-content.js';

it('docs/operations.md is generated from the current operation registry', () => {
  const onDisk = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
  assert.equal(onDisk, renderOperations(), 'docs/operations.md is stale: run `npm run docs:gen`');
});

it('docs/errors.md lists exactly the codes of the error catalogue', () => {
  const onDisk = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(onDisk, renderErrors(), 'docs/errors.md is stale: run `npm run docs:gen`');
});
