// A plain node:http + sharp image server, the baseline of `npm run bench -- --peers`: what a user
// would write. `GET /<file>?w=<width>&f=<jpeg|webp|png|avif>&q=<quality>` reads the file from the
// directory given as argv[2] and answers the resized image, with the encoder settings Halftone uses
// (JPEG: mozjpeg off, baseline; WebP/AVIF: effort 4; PNG: compression 6, no adaptive filtering).
// sharp's defaults are left alone (threads, cache), as a plain server would.
//
// `--bare <file>`: a bare node:http server answering the bytes of <file> from memory for every
// request (the ceiling of a cached workload).
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

const args = process.argv.slice(2);
let handler;
if (args[0] === '--bare') {
  const bytes = await readFile(args[1]);
  const type = args[2] ?? 'image/jpeg';
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': type, 'content-length': bytes.length });
    res.end(bytes);
  };
} else {
  const dir = args[0];
  handler = async (req, res) => {
    try {
      const u = new URL(req.url, 'http://localhost');
      const input = await readFile(join(dir, decodeURIComponent(u.pathname.slice(1)).replace(/\.\./g, '')));
      const w = Number(u.searchParams.get('w'));
      const f = u.searchParams.get('f') ?? 'jpeg';
      const q = Number(u.searchParams.get('q') ?? '80');
      let img = sharp(input).resize({ width: w, withoutEnlargement: true });
      if (f === 'jpeg') img = img.jpeg({ quality: q, mozjpeg: false, progressive: false });
      else if (f === 'webp') img = img.webp({ quality: q, effort: 4 });
      else if (f === 'avif') img = img.avif({ quality: q, effort: 4 });
      else img = img.png({ compressionLevel: 6, adaptiveFiltering: false });
      const out = await img.toBuffer();
      res.writeHead(200, { 'content-type': `image/${f}`, 'content-length': out.length });
      res.end(out);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    }
  };
}
const server = http.createServer(handler);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
