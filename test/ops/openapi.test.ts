/**
 * The OpenAPI document at /docs/json (issue 11 acceptance): it validates against the OpenAPI 3.1
 * schema with a real validator, its UI is served locally, and every documented endpoint answers
 * the request built from the document's own examples with a documented status and a body that
 * matches the documented response schema.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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

before(async () => {
  // The playground shelf gives the examples a public image URL on this server (loopback allowed).
  s = await startComposed({ HALFTONE_API_KEYS: API_KEY, HALFTONE_PLAYGROUND: 'true', HALFTONE_ALLOWED_ORIGINS: '127.0.0.1' });
  const res = await fetch(`${s.url}/docs/json`);
  assert.equal(res.status, 200);
  doc = (await res.json()) as Doc;
});
after(() => s.close());

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
  const shelf = await fetch(`${s.url}/playground/api/images`, { method: 'POST', body: FIXTURE });
  const publicImage = `${s.url}/halftone-playground/${((await shelf.json()) as { key: string }).key}`;
  // Placeholders in examples: the configured key and a public image on this server.
  const fill = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replaceAll('YOUR_API_KEY', API_KEY).replaceAll('(a public image URL)', publicImage));
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
    let body: FormData | string | undefined;
    const content = op.requestBody?.content ?? {};
    if (content['application/json'] !== undefined) {
      assert.ok(content['application/json'].example, `${method} ${path}: JSON body example`);
      body = JSON.stringify(fill(content['application/json'].example));
      headers['content-type'] = 'application/json';
    } else if (content['multipart/form-data'] !== undefined) {
      const media = content['multipart/form-data'];
      assert.ok(media.example, `${method} ${path}: multipart example`);
      const form = new FormData();
      for (const [name, value] of Object.entries(fill(media.example) as Record<string, unknown>)) {
        if (media.schema.properties?.[name]?.format === 'binary') form.append(name, new Blob([FIXTURE], { type: 'image/jpeg' }), 'example.jpg');
        else form.append(name, String(value));
      }
      body = form;
    }
    const target = `${s.url}${url}${query.size > 0 ? `?${query}` : ''}`;
    const res = await fetch(target, { method: method.toUpperCase(), headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    const label = `${method.toUpperCase()} ${url} → ${res.status} ${text.slice(0, 300)}`;
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
    called.push(`${method} ${path}`);
  }
  assert.equal(called.length, ops.length);
});
