#!/usr/bin/env node
// Entry point for `npx halftone`: runs the compiled CLI (built by `npm ci` through the prepare script).
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('halftone: the CLI is not built yet; run `npm run build` (npm ci does it for you).');
    process.exit(1);
  }
  throw err;
}
process.exitCode = await cli.runCli(process.argv.slice(2));
