/** Layer rules from docs/architecture.md, checked by `npm test`. */
module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'core/ imports only core/ (sharp only in core/pipeline, core/codecs and core/ops through the runner)',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/(?!core/)' },
    },
    {
      name: 'dialects-translate-only',
      comment: 'dialects/ may use core/ and other dialect helpers, never http, adapters, app or storage',
      severity: 'error',
      from: { path: '^src/dialects/' },
      to: { path: '^src/(http|adapters|app|cli|config|ports)/' },
    },
    {
      name: 'dialects-no-sharp',
      severity: 'error',
      from: { path: '^src/dialects/' },
      to: { path: 'node_modules/sharp' },
    },
    {
      name: 'ports-are-types',
      severity: 'error',
      from: { path: '^src/ports/' },
      to: { path: '^src/(?!core/|ports/)' },
    },
    {
      name: 'app-uses-core-and-ports',
      severity: 'error',
      from: { path: '^src/app/' },
      to: { path: '^src/(http|adapters|cli|config)/' },
    },
    {
      name: 'adapters-no-app-or-http',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(http|app|cli|dialects)/' },
    },
    {
      name: 'http-cli-no-adapters',
      comment: 'http/ and cli/ reach storage through ports; only main.ts composes adapters',
      severity: 'error',
      from: { path: '^src/(http|cli)/' },
      to: { path: '^src/adapters/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$' },
  },
};
