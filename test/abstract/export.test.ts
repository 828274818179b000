/**
 * Export round trips: results uploaded to a local S3-compatible server (s3rver) and to Azurite,
 * both started by this test on loopback, then read back with the SDKs. Also the address policy on
 * export endpoints (loopback only when listed in the allowed origins) and storage-side failures.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { createS3Exporter } from '../../src/adapters/export/s3.js';
import { createAzureExporter } from '../../src/adapters/export/azure.js';
import { KEY, photo, postUpload, startHarness, type Harness } from './harness.js';

const require = createRequire(import.meta.url);
const AZ_ACCOUNT = 'devstoreaccount1';
// Azurite's documented well-known development key (not a secret).
const AZ_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

let dir: string;
let s3rver: { close(): Promise<void> } | undefined;
let s3Port = 0;
let azurite: ChildProcess | undefined;
let azPort = 0;
let azSkip: string | undefined;
let h: Harness;
let img: Buffer;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function waitListening(port: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'halftone-export-'));
  img = await photo(320, 240);
  const S3rver = require('s3rver') as new (o: object) => { run(): Promise<AddressInfo>; close(): Promise<void> };
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, vhostBuckets: false, directory: join(dir, 's3'), configureBuckets: [{ name: 'results' }] });
  s3Port = (await server.run()).port;
  s3rver = server;

  let azMain: string | undefined;
  try {
    azMain = require.resolve('azurite/dist/src/blob/main.js');
  } catch {
    azSkip = 'azurite is not installed (npm install -D azurite@3.35.0)';
  }
  if (azMain !== undefined) {
    azPort = await freePort();
    azurite = spawn(process.execPath, [azMain, '--blobHost', '127.0.0.1', '--blobPort', String(azPort), '--location', join(dir, 'azurite'), '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry', '--disableProductStyleUrl'], { stdio: 'ignore' });
    if (!(await waitListening(azPort, 20000))) azSkip = 'azurite did not start on loopback within 20 s';
  }
  const allowed = [`http://127.0.0.1:${s3Port}`, `http://127.0.0.1:${azPort}`];
  h = await startHarness({
    deps: { exporters: { s3: createS3Exporter({ allowedOrigins: allowed }), azure: createAzureExporter({ allowedOrigins: allowed }) } },
  });
});

after(async () => {
  await h?.close();
  await s3rver?.close();
  if (azurite !== undefined && azurite.exitCode === null) {
    azurite.kill('SIGTERM');
    await new Promise((r) => azurite?.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
});

const s3Store = (extra: Record<string, unknown> = {}) => ({ key: 'S3RVER', secret: 'S3RVER', bucket: 'results', region: 'us-east-1', endpoint: `http://127.0.0.1:${s3Port}`, ...extra });

test('s3_store: the result is uploaded to the bucket and the url names the object', async () => {
  const res = await postUpload(h, img, { api_key: KEY, lossy: true, resize: { strategy: 'square', size: 64 }, s3_store: s3Store({ path: 'out/dog small.jpg' }) });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.url, `http://127.0.0.1:${s3Port}/results/out/dog%20small.jpg`);
  const client = new S3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${s3Port}`, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  try {
    const got = await client.send(new GetObjectCommand({ Bucket: 'results', Key: 'out/dog small.jpg' }));
    const body = Buffer.from(await got.Body!.transformToByteArray());
    assert.equal(body.length, res.json.final_size);
    assert.equal(got.ContentType, 'image/jpeg');
    const m = await sharp(body).metadata();
    assert.equal(`${m.width}x${m.height}`, '64x64');
  } finally {
    client.destroy();
  }
  // Nothing was published locally.
  assert.equal(h.results.files.size, 0);
  // Without a path the key is <32 hex>_<file name>.
  const auto = await postUpload(h, img, { api_key: KEY, s3_store: s3Store() }, 'photo.jpg');
  assert.match(auto.json.url, new RegExp(`^http://127\\.0\\.0\\.1:${s3Port}/results/[0-9a-f]{32}_photo\\.jpg$`));
});

test('s3_store: storage errors and refused endpoints answer 400 details.s3_store', async () => {
  const badBucket = await postUpload(h, img, { api_key: KEY, s3_store: s3Store({ bucket: 'nope' }) });
  assert.equal(badBucket.status, 400);
  assert.deepEqual(badBucket.json.error.details, { s3_store: ['The S3 upload failed: NoSuchBucket (HTTP 404).'] });
  // Loopback endpoints that are not listed in the allowed origins, metadata addresses and local
  // names are refused before any connection.
  for (const endpoint of ['http://127.0.0.1:1/', 'http://169.254.169.254', `http://localhost:${s3Port}`, 'http://[::1]:8080']) {
    const res = await postUpload(h, img, { api_key: KEY, s3_store: s3Store({ endpoint }) });
    assert.equal(res.status, 400, endpoint);
    assert.deepEqual(res.json.error.details, { s3_store: [endpoint.endsWith(':1/') ? 'The storage endpoint is not allowed: Port 1 is not allowed for source URLs.' : 'The storage endpoint must be a publicly reachable host.'] }, endpoint);
  }
  const notListed = await postUpload(h, img, { api_key: KEY, s3_store: s3Store({ endpoint: 'http://127.0.0.1:8999' }) });
  assert.deepEqual(notListed.json.error.details, { s3_store: ['The storage endpoint must be a publicly reachable host.'] });
});

test('azure_store: the result is uploaded to Azurite and read back', async (t) => {
  if (azSkip !== undefined) {
    t.skip(azSkip);
    return;
  }
  const endpoint = `http://127.0.0.1:${azPort}/${AZ_ACCOUNT}`;
  const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(AZ_ACCOUNT, AZ_KEY));
  await service.getContainerClient('results').createIfNotExists();
  const res = await postUpload(h, img, { api_key: KEY, resize: { strategy: 'fill', width: 100, height: 100, background: '#000' }, azure_store: { account: AZ_ACCOUNT, key: AZ_KEY, container: 'results', path: 'a/b.jpg', endpoint } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.url, `${endpoint}/results/a/b.jpg`);
  const blob = service.getContainerClient('results').getBlockBlobClient('a/b.jpg');
  const body = await blob.downloadToBuffer();
  assert.equal(body.length, res.json.final_size);
  assert.equal((await blob.getProperties()).contentType, 'image/jpeg');
  const m = await sharp(body).metadata();
  assert.equal(`${m.width}x${m.height}`, '100x100');

  const wrongKey = await postUpload(h, img, { api_key: KEY, azure_store: { account: AZ_ACCOUNT, key: Buffer.from('wrong key').toString('base64'), container: 'results', endpoint } });
  assert.equal(wrongKey.status, 400);
  assert.match(wrongKey.json.error.details.azure_store[0], /^The Azure upload failed: \w+ \(HTTP 403\)\.$/);
  const refused = await postUpload(h, img, { api_key: KEY, azure_store: { account: AZ_ACCOUNT, key: AZ_KEY, container: 'results', endpoint: 'http://127.0.0.1:8999/x' } });
  assert.deepEqual(refused.json.error.details, { azure_store: ['The storage endpoint must be a publicly reachable host.'] });
});

test('export endpoints are checked again on every connection (a host name resolving to loopback)', async (t) => {
  const lookups: string[] = [];
  const lookup = async (hostname: string) => {
    lookups.push(hostname);
    if (hostname !== 'storage.test') throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return [{ address: '127.0.0.1', family: 4 }];
  };
  const endpoint = `http://storage.test:${s3Port}`;
  const target = { kind: 's3' as const, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', bucket: 'results', region: 'us-east-1', key: 'rebind.jpg', endpoint };
  // Not listed: the URL passes (a public-looking name) but the connection to 127.0.0.1 is refused.
  await assert.rejects(createS3Exporter({ lookup }).export(target, { bytes: img, contentType: 'image/jpeg' }), (e: unknown) => (e as { code?: string }).code === 'EXPORT_TARGET_NOT_ALLOWED');
  assert.ok(lookups.includes('storage.test'), `lookups ${lookups.join(',')}`);
  // Listed: the same name may reach loopback.
  const ok = await createS3Exporter({ lookup, allowedOrigins: [endpoint] }).export(target, { bytes: img, contentType: 'image/jpeg' });
  assert.equal(ok.url, `${endpoint}/results/rebind.jpg`);
  if (azSkip !== undefined) {
    t.skip(azSkip);
    return;
  }
  await new BlobServiceClient(`http://127.0.0.1:${azPort}/${AZ_ACCOUNT}`, new StorageSharedKeyCredential(AZ_ACCOUNT, AZ_KEY)).getContainerClient('results').createIfNotExists();
  const azEndpoint = `http://storage.test:${azPort}/${AZ_ACCOUNT}`;
  const azTarget = { kind: 'azure' as const, account: AZ_ACCOUNT, accountKey: AZ_KEY, container: 'results', blobName: 'rebind.jpg', endpoint: azEndpoint };
  lookups.length = 0;
  await assert.rejects(createAzureExporter({ lookup }).export(azTarget, { bytes: img, contentType: 'image/jpeg' }), (e: unknown) => (e as { code?: string }).code === 'EXPORT_TARGET_NOT_ALLOWED');
  assert.ok(lookups.includes('storage.test'), `lookups ${lookups.join(',')}`);
  const azOk = await createAzureExporter({ lookup, allowedOrigins: [`http://storage.test:${azPort}`] }).export(azTarget, { bytes: img, contentType: 'image/jpeg' });
  assert.equal(azOk.url, `${azEndpoint}/results/rebind.jpg`);
});
