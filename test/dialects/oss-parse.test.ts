/**
 * Table-driven tests of the OSS dialect parser: every action and parameter, the spec's error ECs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseOssProcess } from '../../src/dialects/oss/parse.js';
import { AppError } from '../../src/core/errors.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64url');

describe('OSS parser: valid chains', () => {
  const cases: [string, unknown][] = [
    ['image/resize,w_300', { ops: [{ op: 'resize', params: { mode: 'lfit', limit: true, color: { r: 255, g: 255, b: 255, alpha: 1 }, w: 300 } }], output: {} }],
    ['image/resize,m_fill,w_150,h_80', { ops: [{ op: 'resize', params: { mode: 'fill', limit: true, color: { r: 255, g: 255, b: 255, alpha: 1 }, w: 150, h: 80 } }], output: {} }],
    ['image/resize,m_pad,w_150,h_80,color_FF0000,limit_0', { ops: [{ op: 'resize', params: { mode: 'pad', limit: false, color: { r: 255, g: 0, b: 0, alpha: 1 }, w: 150, h: 80 } }], output: {} }],
    ['image/resize,l_100,s_50,p_50', { ops: [{ op: 'resize', params: { mode: 'lfit', limit: true, color: { r: 255, g: 255, b: 255, alpha: 1 }, l: 100, s: 50, p: 50 } }], output: {} }],
    ['image/crop,x_100,y_50,w_100,h_100,g_se', { ops: [{ op: 'crop', params: { x: 100, y: 50, g: 'se', w: 100, h: 100 } }], output: {} }],
    ['image/crop,w_0', { ops: [{ op: 'crop', params: { x: 0, y: 0, g: 'nw', w: 0 } }], output: {} }],
    ['image/quality,q_80', { ops: [], output: { quality: { relative: 80 } } }],
    ['image/quality,q_50,Q_90', { ops: [], output: { quality: { absolute: 90 } } }],
    ['image/format,jpg/interlace,1', { ops: [], output: { format: 'jpeg', interlace: true } }],
    ['image/format,PNG', { ops: [], output: { format: 'png' } }],
    ['image/info', { ops: [], output: {}, terminal: 'info' }],
    ['image/average-hue', { ops: [], output: {}, terminal: 'averageHue' }],
    ['image/circle,r_100', { ops: [{ op: 'circle', params: { r: 100 } }], output: {} }],
    ['image/rounded-corners,r_30', { ops: [{ op: 'roundedCorners', params: { r: 30 } }], output: {} }],
    ['image/indexcrop,x_100,i_0', { ops: [{ op: 'indexcrop', params: { axis: 'x', size: 100, index: 0 } }], output: {} }],
    ['image/indexcrop,x_100,y_100,i_1', { ops: [{ op: 'indexcrop', params: { axis: 'y', size: 100, index: 1 } }], output: {} }],
    ['image/blur,r_3,s_2', { ops: [{ op: 'blur', params: { r: 3, s: 2 } }], output: {} }],
    ['image/rotate,90', { ops: [{ op: 'rotate', params: { angle: 90 } }], output: {} }],
    ['image/bright,-50', { ops: [{ op: 'bright', params: { value: -50 } }], output: {} }],
    ['image/contrast,50', { ops: [{ op: 'contrast', params: { value: 50 } }], output: {} }],
    ['image/sharpen,100', { ops: [{ op: 'sharpen', params: { value: 100 } }], output: {} }],
    ['image/interlace,0', { ops: [], output: { interlace: false } }],
  ];
  for (const [input, expected] of cases) {
    it(input, () => assert.deepEqual(parseOssProcess(input), expected));
  }

  it('applies auto-orient before the chain wherever it is written', () => {
    const r = parseOssProcess('image/resize,w_100/auto-orient,1');
    assert.deepEqual(r.ops.map((o) => o.op), ['autoOrient', 'resize']);
    assert.deepEqual(r.ops[0], { op: 'autoOrient', params: { enabled: true } });
    const r0 = parseOssProcess('image/resize,w_100/auto-orient,0');
    assert.deepEqual(r0.ops[0], { op: 'autoOrient', params: { enabled: false } });
  });

  it('keeps the order of the other actions', () => {
    const r = parseOssProcess('image/resize,w_200/rotate,90/crop,w_10/blur,r_1,s_1');
    assert.deepEqual(r.ops.map((o) => o.op), ['resize', 'rotate', 'crop', 'blur']);
  });

  it('parses an image watermark with its own process and P', () => {
    const r = parseOssProcess(`image/watermark,image_${b64('panda.png?x-oss-process=image/resize,P_30')},g_nw,x_20,y_30,t_50`);
    const w = r.ops[0];
    assert.equal(w?.op, 'watermark');
    if (w?.op !== 'watermark') return;
    assert.deepEqual(w.params.image, { key: 'panda.png', ops: [], percentOfMain: 30 });
    assert.equal(w.params.g, 'nw');
    assert.equal(w.params.x, 20);
    assert.equal(w.params.y, 30);
    assert.equal(w.params.t, 50);
  });

  it("parses the docs' panda example key (cGFuZGEucG5n) and defaults", () => {
    const r = parseOssProcess('image/watermark,image_cGFuZGEucG5n');
    const w = r.ops[0];
    assert.ok(w?.op === 'watermark');
    assert.deepEqual(w.params.image, { key: 'panda.png', ops: [] });
    assert.equal(w.params.g, 'se');
    assert.equal(w.params.x, 10);
    assert.equal(w.params.y, 10);
    assert.equal(w.params.t, 100);
    assert.equal(w.params.voffset, 0);
  });

  it('parses a text watermark with every option', () => {
    const r = parseOssProcess(
      'image/resize,w_300,h_300/watermark,type_d3F5LXplbmhlaQ,size_30,text_SGVsbG8gV29ybGQ,color_FFFFFF,shadow_50,t_100,g_se,x_10,y_10,rotate_15,fill_1,padx_20,pady_30',
    );
    const w = r.ops[1];
    assert.ok(w?.op === 'watermark');
    assert.deepEqual(w.params.text, {
      text: 'Hello World', font: 'wqy-zenhei', color: { r: 255, g: 255, b: 255, alpha: 1 }, size: 30, shadow: 50, rotate: 15, fill: true, padx: 20, pady: 30,
    });
  });

  it('accepts standard and padded base64 too', () => {
    const std = Buffer.from('dir/a>b?.png').toString('base64'); // contains + or / and =
    const r = parseOssProcess(`image/watermark,image_${std}`);
    assert.ok(r.ops[0]?.op === 'watermark');
    assert.equal(r.ops[0].params.image?.key, 'dir/a>b?.png');
  });

  it('ignores unknown keys in lenient mode', () => {
    assert.deepEqual(parseOssProcess('image/resize,w_10,zz_1', { strict: false }).ops.length, 1);
  });
});

describe('OSS parser: errors with the spec codes', () => {
  const cases: [string, string, string | undefined][] = [
    ['image/', 'MISSING_ARGUMENT', '0040-00000212'],
    ['image/slim,1', 'UNKNOWN_ACTION', '0040-00000213'],
    ['image/resize,m_abc,w_100', 'INVALID_ARGUMENT', '0040-00000311'],
    ['image/resize,w_0', 'INVALID_ARGUMENT', '0040-00000312'],
    ['image/resize,w_16385', 'INVALID_ARGUMENT', '0040-00000312'],
    ['image/resize,s_0', 'INVALID_ARGUMENT', '0040-00000315'],
    ['image/resize,p_1001', 'INVALID_ARGUMENT', '0040-00000317'],
    ['image/resize,p_0', 'INVALID_ARGUMENT', '0040-00000317'],
    ['image/resize,w_0,h_0', 'INVALID_ARGUMENT', '0040-00000321'],
    ['image/resize', 'MISSING_ARGUMENT', '0040-00000322'],
    ['image/resize,h_abc', 'INVALID_ARGUMENT', undefined],
    ['image/resize,w_10,color_GGGGGG', 'INVALID_ARGUMENT', undefined],
    ['image/resize,w_10,limit_2', 'INVALID_ARGUMENT', undefined],
    ['image/resize,w_10,zz_1', 'INVALID_ARGUMENT', undefined],
    ['image/rotate,90,200,300', 'INVALID_ARGUMENT', '0040-00000203'],
    ['image/rotate,361', 'INVALID_ARGUMENT', undefined],
    ['image/format', 'MISSING_ARGUMENT', '0040-00000207'],
    ['image/format,exe', 'INVALID_ARGUMENT', undefined],
    ['image/auto-orient,abc', 'INVALID_ARGUMENT', '0040-00000215'],
    ['image/auto-orient,10', 'INVALID_ARGUMENT', '0040-00000215'],
    ['image/crop,x_100,y_50,w_100,h_abc', 'INVALID_ARGUMENT', '0040-00000226'],
    ['image/crop,w_-1', 'INVALID_ARGUMENT', '0040-00000225'],
    ['image/crop,g_middle', 'INVALID_ARGUMENT', undefined],
    ['image/indexcrop,x_0', 'INVALID_ARGUMENT', '0040-00000230'],
    ['image/indexcrop,x_10,i_a', 'INVALID_ARGUMENT', '0040-00000229'],
    ['image/indexcrop,i_1', 'MISSING_ARGUMENT', '0040-00000230'],
    ['image/blur,r_0,s_2', 'INVALID_ARGUMENT', undefined],
    ['image/blur,r_3', 'MISSING_ARGUMENT', undefined],
    ['image/blur,r_51,s_2', 'INVALID_ARGUMENT', undefined],
    ['image/sharpen,49', 'INVALID_ARGUMENT', undefined],
    ['image/sharpen,400', 'INVALID_ARGUMENT', undefined],
    ['image/contrast,150', 'INVALID_ARGUMENT', undefined],
    ['image/bright,101', 'INVALID_ARGUMENT', undefined],
    ['image/bright,abc', 'INVALID_ARGUMENT', undefined],
    ['image/circle,r_0', 'INVALID_ARGUMENT', undefined],
    ['image/rounded-corners,r_4097', 'INVALID_ARGUMENT', undefined],
    ['image/interlace,2', 'INVALID_ARGUMENT', undefined],
    ['image/quality,q_0', 'INVALID_ARGUMENT', undefined],
    ['image/quality,Q_101', 'INVALID_ARGUMENT', undefined],
    ['image/quality', 'MISSING_ARGUMENT', undefined],
    ['image/resize,s_700,limit_0/info', 'INVALID_ARGUMENT', undefined],
    ['image/average-hue/resize,w_10', 'INVALID_ARGUMENT', undefined],
    ['image/watermark,t_50', 'MISSING_ARGUMENT', undefined],
    ['image/watermark,text_!!!', 'BAD_REQUEST', undefined],
    ['image/watermark,image_cGFuZGEucG5n,t_101', 'INVALID_ARGUMENT', undefined],
    ['image/watermark,image_cGFuZGEucG5n,voffset_-1001', 'INVALID_ARGUMENT', undefined],
    [`image/watermark,text_${b64('x'.repeat(65))}`, 'INVALID_ARGUMENT', undefined],
    [`image/watermark,image_${b64('a.png?x-oss-process=image/blur,r_1,s_1')}`, 'WATERMARK_ERROR', undefined],
    ['style/abc', 'INVALID_ARGUMENT', undefined],
    ['video/snapshot,t_1', 'INVALID_ARGUMENT', undefined],
  ];
  for (const [input, code, ec] of cases) {
    it(`${input} → ${code}${ec ? ` ${ec}` : ''}`, () => {
      assert.throws(
        () => parseOssProcess(input),
        (err: unknown) => {
          assert.ok(err instanceof AppError, `expected AppError, got ${String(err)}`);
          assert.equal(err.code, code);
          assert.equal(err.ec, ec);
          assert.ok(err.publicMessage.length > 0);
          return true;
        },
      );
    });
  }

  it('says what it expected and what it received', () => {
    assert.throws(() => parseOssProcess('image/resize,w_0'), /Expected integer between 1 and 16384 for resize\.w but received "0"/);
  });
});
