/**
 * The OpenAPI document at /docs/json (issue 11 acceptance): it validates against the OpenAPI 3.1
 * schema with a real validator, its UI is served locally, and every documented endpoint answers
 * the request built from the document's own examples with a documented status and a body that
 * matches the documented response schema.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { startComposed, type ComposedServer } from './composed.js';

const API_KEY = 'docs-test-token';
const FIXTURE = readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url));

interface Param { name: string; in: string; example?: unknown; required?: boolean }
interface Operation {
  summary: string;
  /** Path parameters taken from an earlier operation's JSON answer: name → { operation, pointer }. */
  'x-example-from'?: Record<string, { operation: string; pointer: string }>;
  parameters?: Param[];
  security?: unknown[];
  requestBody?: { content: Record<string, { example?: Record<string, unknown>; schema: { properties?: Record<string, { format?: string }> } }> };
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}
interface Doc { openapi: string; paths: Record<string, Record<string, Operation>> }

let s: ComposedServer;
let doc: Doc;
/**
 * The image origin for the examples' source URLs: a loopback server of this test. The document's
 * examples name realistic public URLs; the test never lets the server fetch them (they are
 * replaced by this origin, the only one allowed, and any public origin is refused).
 */
let origin: Server;
let originUrl = '';
let originHits = 0;

before(async () => {
  origin = createServer((req, res) => {
    originHits++;
    if (req.url !== '/photo.jpg') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(FIXTURE.length) }).end(FIXTURE);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  s = await startComposed({
    HALFTONE_API_KEYS: API_KEY, HALFTONE_PLAYGROUND: 'true',
    HALFTONE_ALLOWED_ORIGINS: originUrl, HALFTONE_ANY_PUBLIC_ORIGIN: 'false',
    // Every example runs in one burst (several per API family): no 429 from the per-key limits.
    HALFTONE_TASK_RATE_LIMIT: '1000', HALFTONE_ABSTRACT_RATE_LIMIT: '1000',
  });
  const res = await fetch(`${s.url}/docs/json`);
  assert.equal(res.status, 200);
  doc = (await res.json()) as Doc;
});
after(async () => {
  await s.close();
  await new Promise<void>((resolve) => origin.close(() => resolve()));
});

test('the document is valid OpenAPI 3.1', async () => {
  assert.equal(doc.openapi, '3.1.0');
  const validator = new Validator();
  const result = await validator.validate(doc as unknown as Parameters<Validator["validate"]>[0]);
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  assert.ok(Object.keys(doc.paths).some((p) => p.startsWith('/client/v4/accounts/{account}/images')), 'the Images REST API is documented');
  // The URL dialects are not part of the JSON document (their routes are untagged).
  assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/cdn-cgi/image/') || p === '/{*}' || p === '/'), Object.keys(doc.paths).join(', '));
});

test('/docs serves the Swagger UI from the package, not a CDN', async () => {
  const html = await (await fetch(`${s.url}/docs`)).text();
  assert.match(html, /swagger-ui/i);
  assert.ok(!/https?:\/\/(?!127\.0\.0\.1)[a-z0-9.-]+\/[^"']*\.(js|css)/i.test(html), 'no remote script or stylesheet');
  const js = await fetch(`${s.url}/docs/static/swagger-ui-bundle.js`);
  assert.equal(js.status, 200);
  assert.ok((await js.arrayBuffer()).byteLength > 100_000);
});

const METHOD_ORDER = ['post', 'put', 'get', 'patch', 'delete'];

test('every documented endpoint answers its examples as documented', async () => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  const ops: { path: string; method: string; op: Operation }[] = [];
  for (const [path, item] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(item)) ops.push({ path, method, op });
  // Create before read, read before change, change before delete; credential-less steps that
  // consume what an authenticated step created (direct upload completion) come last per method.
  ops.sort((a, b) => METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method)
    || Number(a.op.security?.length === 0) - Number(b.op.security?.length === 0));
  assert.ok(ops.length >= 20, `${ops.length} operations`);
  const called: string[] = [];
  const answers = new Map<string, unknown>();
  const image = `${originUrl}/photo.jpg`;
  const urlsReplaced: string[] = [];
  // Examples as sent: the configured key for `YOUR_API_KEY`, and this test's loopback image for
  // every body field documented as a URL (`format: uri`), whatever public URL the example names.
  const fill = (v: unknown, schema: { properties?: Record<string, { format?: string }> }): unknown => {
    const out = JSON.parse(JSON.stringify(v).replaceAll('YOUR_API_KEY', API_KEY)) as Record<string, unknown>;
    for (const [name, prop] of Object.entries(schema.properties ?? {})) {
      if (prop.format !== 'uri' || typeof out[name] !== 'string') continue;
      assert.match(out[name], /^https?:\/\/[^/]+\//, `example ${name} is a URL`);
      urlsReplaced.push(`${name}: ${out[name]}`);
      out[name] = image;
    }
    return out;
  };
  // Nothing sent may name a host other than loopback (this server or the test's origin).
  const onlyLoopback = (label: string, text: string) => {
    for (const m of text.matchAll(/https?:\/\/([^/"'\s:]+)/g)) assert.equal(m[1], '127.0.0.1', `${label} sends ${m[0]}`);
  };
  const pointer = (doc: unknown, ptr: string): unknown => ptr.split('/').slice(1).reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
  for (const { path, method, op } of ops) {
    let url = path;
    const query = new URLSearchParams();
    for (const p of op.parameters ?? []) {
      if (p.in === 'path') {
        const from = op['x-example-from']?.[p.name];
        const value = from === undefined ? p.example : pointer(answers.get(from.operation), from.pointer);
        assert.notEqual(value, undefined, `${method} ${path}: path parameter ${p.name} has an example`);
        url = url.replace(`{${p.name}}`, encodeURIComponent(String(value)));
      } else if (p.in === 'query' && p.example !== undefined) query.set(p.name, String(p.example));
    }
    const headers: Record<string, string> = {};
    const schemes = (op.security ?? []).flatMap((r) => Object.keys(r as object));
    if (schemes.includes('bearer')) headers['authorization'] = `Bearer ${API_KEY}`;
    if (schemes.includes('apiKey')) headers['x-api-key'] = API_KEY;
    // One request per documented request content type (each with its own example), or one
    // without a body.
    const bodies: { type?: string; body?: FormData | string }[] = [];
    for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
      assert.ok(media.example, `${method} ${path}: ${type} example`);
      const filled = fill(media.example, media.schema) as Record<string, unknown>;
      if (type === 'application/json') {
        const body = JSON.stringify(filled);
        onlyLoopback(`${method} ${path}`, body);
        bodies.push({ type, body });
      } else if (type === 'application/x-www-form-urlencoded') {
        const body = new URLSearchParams(Object.entries(filled).map(([k, v]): [string, string] => [k, String(v)])).toString();
        onlyLoopback(`${method} ${path}`, decodeURIComponent(body));
        bodies.push({ type, body });
      } else if (type === 'multipart/form-data') {
        const form = new FormData();
        for (const [name, value] of Object.entries(filled)) {
          if (media.schema.properties?.[name]?.format === 'binary') form.append(name, new Blob([FIXTURE], { type: 'image/jpeg' }), 'example.jpg');
          else {
            onlyLoopback(`${method} ${path} ${name}`, String(value));
            form.append(name, String(value));
          }
        }
        bodies.push({ body: form }); // fetch sets the boundary
      } else assert.fail(`${method} ${path}: no example request for ${type}`);
    }
    if (bodies.length === 0) bodies.push({});
    for (const { type: sent, body } of bodies) {
      const target = `${s.url}${url}${query.size > 0 ? `?${query}` : ''}`;
      const res = await fetch(target, { method: method.toUpperCase(), headers: { ...headers, ...(sent === undefined ? {} : { 'content-type': sent }) }, ...(body === undefined ? {} : { body }) });
      const text = await res.text();
      const label = `${method.toUpperCase()} ${url}${sent === undefined ? '' : ` (${sent})`} → ${res.status} ${text.slice(0, 300)}`;
      assert.ok(res.status >= 200 && res.status < 300, label);
      const documented = op.responses[String(res.status)];
      assert.ok(documented, `${label}: status not documented`);
      const [type, media] = Object.entries(documented.content ?? {})[0] ?? [];
      assert.ok(type && media, `${label}: no documented content`);
      assert.ok((res.headers.get('content-type') ?? '').startsWith(type), `${label}: content-type ${res.headers.get('content-type')} vs ${type}`);
      if (type === 'application/json') {
        const validate = ajv.compile(media.schema);
        const json = JSON.parse(text) as unknown;
        assert.ok(validate(json), `${label}: ${JSON.stringify(validate.errors)}`);
        answers.set(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`, json);
      }
    }
    called.push(`${method} ${path}`);
  }
  assert.equal(called.length, ops.length);
  // The URL-taking endpoints were exercised with their (replaced) example URLs and fetched them.
  assert.ok(urlsReplaced.length >= 1, 'some example names a source URL');
  assert.ok(originHits >= urlsReplaced.length, `${originHits} fetches for ${urlsReplaced.join(', ')}`);
});
