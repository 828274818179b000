/**
 * Regenerates the small committed test fixtures from the shared corpus (../shared/corpus).
 * Run: npx tsx scripts/make-fixtures.ts. Licences: test/fixtures/LICENSES.md.
 */
import sharp from 'sharp';
import { mkdirSync } from 'node:fs';

const corpus = new URL('../../shared/corpus/', import.meta.url);
const out = new URL('../test/fixtures/', import.meta.url);
mkdirSync(out, { recursive: true });

// 400x267 photo, the size of the OSS documentation's example.jpg (CC-BY-SA-3.0, thumbor fixture).
await sharp(new URL('photos/person_giunchedi_800x533.jpg', corpus).pathname)
  .resize(400, 267, { fit: 'fill' })
  .jpeg({ quality: 90 })
  .toFile(new URL('example-400x267.jpg', out).pathname);

// EXIF orientation 1–8, 90x60 upright display (stored rotated as the originals; MIT, recurser).
mkdirSync(new URL('orientation/', out), { recursive: true });
for (let o = 1; o <= 8; o++) {
  const swap = o >= 5;
  await sharp(new URL(`orientation/Landscape_${o}.jpg`, corpus).pathname)
    .resize(swap ? 60 : 90, swap ? 90 : 60, { fit: 'fill' })
    .withMetadata({ orientation: o })
    .jpeg({ quality: 90 })
    .toFile(new URL(`orientation/Landscape_${o}.jpg`, out).pathname);
}

// RGBA watermark logo 100x50 (see corpus watermark/ licence), the spec's panda.png stand-in.
await sharp(new URL('watermark/logo_rgba_128x64.png', corpus).pathname)
  .resize(100, 50, { fit: 'fill' })
  .png()
  .toFile(new URL('panda-100x50.png', out).pathname);

// Kodak kodim23 reduced, RGB PNG (Kodak free-use).
await sharp(new URL('photos/kodak/kodim23.png', corpus).pathname)
  .resize(256, 171, { fit: 'fill' })
  .png()
  .toFile(new URL('kodim23-256.png', out).pathname);

console.log('fixtures written');
