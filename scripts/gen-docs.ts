/** Writes the generated docs (operations, errors). */
import { writeFileSync } from 'node:fs';
import { renderErrors, renderOperations } from './docs-content.js';

writeFileSync(new URL('../docs/operations.md', import.meta.url), renderOperations());
writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrors());
console.log('wrote docs/operations.md and docs/errors.md');
