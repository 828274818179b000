/**
 * gravity=face with the real detector (face-api Tiny Face Detector, weights shipped in the npm
 * package, wasm backend): the crop window follows the face; zoom tightens it; no face → centre.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { createFaceApiDetector } from '../../src/adapters/faces/face-api.js';
import { decode, startHarness, type Harness } from './harness.js';

const person = readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url));
const parrots = readFileSync(new URL('../fixtures/kodim23-256.png', import.meta.url));
const detector = createFaceApiDetector();
let h: Harness;

function stdev(d: { data: Buffer }): number {
  const n = d.data.length;
  const mean = [...d.data].reduce((a, b) => a + b, 0) / n;
  return Math.sqrt([...d.data].reduce((a, b) => a + (b - mean) ** 2, 0) / n);
}

before(async () => {
  h = await startHarness({}, undefined, undefined, detector);
  // The person on the left of a wide flat grey canvas: the centre window holds only grey.
  const wide = await sharp(person).extend({ right: 600, background: { r: 128, g: 128, b: 128 } }).png().toBuffer();
  await h.put('img', 'wide.png', wide);
  await h.put('img', 'parrots.png', parrots);
});
after(async () => h.close());

test('the detector finds the face in the person photo and none in the parrots', async () => {
  const faces = await detector.detect(person);
  assert.equal(faces.length, 1);
  const f = faces[0]!;
  // The face sits in the middle-upper part of the 400×267 photo.
  assert.ok(f.x > 100 && f.x + f.width < 300 && f.y > 20 && f.y + f.height < 200, JSON.stringify(f));
  assert.deepEqual(await detector.detect(parrots), []);
});

test('gravity=face moves the window onto the face; centre gravity would show only grey', async () => {
  const centre = await h.app.inject({ method: 'GET', url: '/cdn-cgi/image/fit=cover,w=200,h=267,f=png/img/wide.png' });
  assert.ok(stdev(await decode(centre.rawPayload)) < 2);
  const face = await h.app.inject({ method: 'GET', url: '/cdn-cgi/image/fit=cover,w=200,h=267,gravity=face,f=png/img/wide.png' });
  assert.equal(face.statusCode, 200, face.body);
  assert.match(String(face.headers['cf-resized']), / fd=1$/);
  const img = await decode(face.rawPayload);
  assert.deepEqual([img.width, img.height], [200, 267]);
  assert.ok(stdev(img) > 20, 'the window shows the photo');
});

test('zoom=1 crops tight around the face; no face falls back to the centre', async () => {
  const loose = await decode((await h.app.inject({ method: 'GET', url: '/cdn-cgi/image/fit=cover,w=100,h=100,gravity=face,f=png/img/wide.png' })).rawPayload);
  const tight = await h.app.inject({ method: 'GET', url: '/cdn-cgi/image/fit=cover,w=100,h=100,gravity=face,zoom=1,f=png/img/wide.png' });
  assert.equal(tight.statusCode, 200, tight.body);
  const t = await decode(tight.rawPayload);
  assert.deepEqual([t.width, t.height], [100, 100]);
  // The tight window is a scaled-up face: it differs clearly from the loose one.
  let diff = 0;
  for (let i = 0; i < t.data.length; i++) diff += Math.abs((t.data[i] as number) - (loose.data[i] as number));
  assert.ok(diff / t.data.length > 10, `mean difference ${diff / t.data.length}`);
  const none = await h.app.inject({ method: 'GET', url: '/cdn-cgi/image/fit=cover,w=100,h=100,gravity=face,f=png/img/parrots.png' });
  assert.match(String(none.headers['cf-resized']), / fd=0$/);
  const centre = await h.app.inject({ method: 'GET', url: '/cdn-cgi/image/fit=cover,w=100,h=100,f=png/img/parrots.png' });
  assert.deepEqual(none.rawPayload, centre.rawPayload);
});

test('a detector that fails does not break the image: saliency is used and a warning says so', async () => {
  const broken = await startHarness({}, undefined, undefined, { detect: async () => { throw new Error('model missing'); } });
  try {
    await broken.put('img', 'wide.png', await sharp(person).extend({ right: 600, background: { r: 128, g: 128, b: 128 } }).png().toBuffer());
    const res = await broken.app.inject({ method: 'GET', url: '/cdn-cgi/image/fit=cover,w=200,h=267,gravity=face/img/wide.png' });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['warning']), /face detection unavailable/);
    assert.doesNotMatch(String(res.headers['cf-resized']), /fd=/);
  } finally {
    await broken.close();
  }
});

test('face detection runs on the image where the crop happens (after flip and trim)', async () => {
  // Mirrored, the person is on the right of the grey canvas; the trim shifts it further.
  const res = await h.app.inject({ method: 'GET', url: '/cdn-cgi/image/flip=h,trim=0;0;0;0.1,fit=cover,w=200,h=267,gravity=face,f=png/img/wide.png' });
  assert.equal(res.statusCode, 200, res.body);
  assert.match(String(res.headers['cf-resized']), / fd=1$/);
  assert.ok(stdev(await decode(res.rawPayload)) > 20, 'the window shows the photo, not the grey canvas');
});
