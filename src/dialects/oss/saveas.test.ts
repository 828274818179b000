import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAppError } from '../../core/errors.js';
import { decodeAnyBase64, parseProcessBody } from './saveas.js';

test('ali-oss body (URL-encoded, standard base64 with padding)', () => {
  assert.deepEqual(parseProcessBody('x-oss-process=image%2Fresize%2Cw_100%7Csys%2Fsaveas%2Co_b3V0L3RodW1iLmpwZw%3D%3D'), {
    process: 'image/resize,w_100', saveas: { object: 'out/thumb.jpg', bucket: undefined },
  });
  assert.deepEqual(parseProcessBody('x-oss-process=image%2Fresize%2Cw_100%7Csys%2Fsaveas%2Co_b3V0L3g%2BPj8uanBn%2Cb_b3RoZXJidWNrZXQ%3D'), {
    process: 'image/resize,w_100', saveas: { object: 'out/x>>?.jpg', bucket: 'otherbucket' },
  });
});

test('all four base64 spellings decode alike', () => {
  // "out/x>>?.jpg" has '+' in standard and '-' in URL-safe; "otherbucket" needs padding.
  for (const s of ['b3V0L3g+Pj8uanBn', 'b3V0L3g-Pj8uanBn']) assert.equal(decodeAnyBase64(s), 'out/x>>?.jpg');
  for (const s of ['b3RoZXJidWNrZXQ=', 'b3RoZXJidWNrZXQ']) assert.equal(decodeAnyBase64(s), 'otherbucket');
  for (const s of ['ZGlyL2E_Yi5qcGc=', 'ZGlyL2E/Yi5qcGc=', 'ZGlyL2E_Yi5qcGc', 'ZGlyL2E/Yi5qcGc']) assert.equal(decodeAnyBase64(s), 'dir/a?b.jpg');
});

test('raw (Go SDK) body, a style chain, and no saveas', () => {
  assert.deepEqual(parseProcessBody('x-oss-process=style/examplestyle|sys/saveas,o_dGVzdC5qcGc,b_dGVzdA'), {
    process: 'style/examplestyle', saveas: { object: 'test.jpg', bucket: 'test' },
  });
  assert.deepEqual(parseProcessBody('x-oss-process=image/resize,w_1'), { process: 'image/resize,w_1', saveas: undefined });
  // '+' is literal, never a space.
  assert.equal(parseProcessBody('x-oss-process=image/a+b').process, 'image/a+b');
});

test('errors', () => {
  const code = (body: string) => {
    try {
      parseProcessBody(body);
      return 'none';
    } catch (e) {
      return isAppError(e) ? e.code : 'other';
    }
  };
  assert.equal(code('x-oss-process=image/resize,w_1|sys/saveas,o_!!!'), 'BAD_REQUEST');
  assert.equal(code('x-oss-process=image/resize,w_1|sys/saveas,b_dGVzdA'), 'MISSING_ARGUMENT');
  assert.equal(code('nothing'), 'MISSING_ARGUMENT');
  assert.equal(code('x-oss-process=image/resize,w_1|sys/saveas,o_dGVzdA,x_1'), 'INVALID_ARGUMENT');
  assert.equal(code('x-oss-process=%E0%A4%A'), 'BAD_REQUEST');
});
