/**
 * The filesystem BlobStore against the BlobStore contract.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsBlobStore } from '../../src/adapters/storage/fs.js';
import { blobStoreContract } from './contract.js';

blobStoreContract('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'halftone-blobs-'));
  return { store: await createFsBlobStore({ dir }), dispose: () => rm(dir, { recursive: true, force: true }) };
});
