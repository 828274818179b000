/**
 * The S3 BlobStore against the BlobStore contract, on a local s3rver (loopback, temp dir). Each
 * contract case gets its own key prefix, so cases do not see each other's blobs.
 */
import { after, before } from 'node:test';
import { createS3BlobStore } from '../../src/adapters/storage/s3.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3-server.js';
import { blobStoreContract } from './contract.js';

let s3: LocalS3;
before(async () => {
  s3 = await startLocalS3();
});
after(async () => {
  await s3.stop();
});

let n = 0;
blobStoreContract('S3 (s3rver)', async () => {
  const store = createS3BlobStore({
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    prefix: `case-${n++}/`,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
    partSize: 5 * 1024 * 1024,
  });
  return { store, dispose: async () => store.destroy() };
});
