/** `halftone animate`: the example command line, exit codes for bad parameters and inputs. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { decode, noFfmpeg, specClip, tempDir } from './helpers.js';

describe('halftone animate', { skip: noFfmpeg }, () => {
  let dir = '';
  let clip = '';
  before(() => {
    dir = tempDir();
    clip = specClip(dir, 320, 180, 4);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--fps 10 --inter 500 --w 320 in.mp4 out.gif → 8 frames of 100 ms at 320×180', async () => {
    const out = join(dir, 'out.gif');
    assert.equal(await runCli(['animate', '--fps', '10', '--inter', '500', '--w', '320', clip, out]), 0);
    const d = await decode(out);
    assert.deepEqual([d.format, d.pages, d.width, d.height, ...new Set(d.delay)], ['gif', 8, 320, 180, 100]);
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp')), [], 'no temp file left');
  });

  it('the format follows the extension (.webp) or --format', async () => {
    const out = join(dir, 'x.webp');
    assert.equal(await runCli(['animate', '--inter', '1000', '--w', '64', '--no-progress', clip, out]), 0);
    assert.equal((await decode(out)).format, 'webp');
    assert.equal(await runCli(['animate', '--format', 'gif', '--inter', '1000', '--w', '64', clip, join(dir, 'anim.bin')]), 0);
    assert.equal((await decode(join(dir, 'anim.bin'))).format, 'gif');
  });

  it('bad parameters and inputs exit 2 without writing the output', async () => {
    const out = join(dir, 'bad.gif');
    assert.equal(await runCli(['animate', '--w', '8', clip, out]), 2);
    assert.equal(await runCli(['animate', '--fps', '300', clip, out]), 2);
    assert.equal(await runCli(['animate', clip, join(dir, 'out.mp4')]), 2);
    assert.equal(await runCli(['animate', new URL('../fixtures/example-400x267.jpg', import.meta.url).pathname, out]), 2);
    assert.equal(existsSync(out), false);
  });
});
