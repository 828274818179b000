/**
 * The composed application (src/main.ts compose) in this process on an ephemeral loopback port
 * with a temporary data dir: the real adapters, metrics and routes, faster than a child process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compose, type Composed } from '../../src/main.js';
import { load } from '../../src/config/schema.js';

export interface ComposedServer {
  readonly url: string;
  readonly composed: Composed;
  readonly dataDir: string;
  close(): Promise<void>;
}

export async function startComposed(env: Record<string, string> = {}): Promise<ComposedServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'halftone-ops-'));
  const loaded = load({
    HALFTONE_DATA_DIR: dataDir, HALFTONE_ACCESS_KEY_ID: 'testAccessKeyId', HALFTONE_ACCESS_KEY_SECRET: 'testAccessKeySecret',
    HALFTONE_LOG_LEVEL: 'silent', ...env,
  });
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  const composed = await compose(loaded.config, () => undefined);
  const url = await composed.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url, composed, dataDir,
    async close() {
      await composed.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
