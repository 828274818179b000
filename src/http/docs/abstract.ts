/**
 * Documentation schemas of the Abstract-style Images API (spec abstract-api.md). They attach when
 * routes with these templates are registered (registry.ts); until then they are unused. The
 * routes also answer without the trailing slash (undocumented twins). The examples'
 * `YOUR_API_KEY` is replaced by a configured key, and the example `url` by a loopback image, in
 * test/ops/openapi.test.ts.
 */
import type { DocSchemas } from './types.js';

const resize = {
  type: 'object', required: ['strategy'],
  properties: {
    strategy: { type: 'string', enum: ['exact', 'portrait', 'landscape', 'auto', 'fit', 'crop', 'square', 'fill'] },
    width: { type: 'integer', minimum: 1, maximum: 10000 }, height: { type: 'integer', minimum: 1, maximum: 10000 }, size: { type: 'integer', minimum: 1, maximum: 10000 },
    crop_mode: { type: 'string' }, x: { type: 'integer', minimum: 0 }, y: { type: 'integer', minimum: 0 },
    scale: { type: 'integer', minimum: 1, maximum: 1000 }, background: { type: 'string', description: '#rgb, #rrggbb, rgb() or rgba()' },
  },
};
/** Export targets (Kraken.io field names; `endpoint` for S3- / Azure-compatible servers). */
const s3Store = {
  type: 'object', required: ['key', 'secret', 'bucket'], description: 'Store the result in S3 instead of on this server; `url` is then the object URL',
  properties: {
    key: { type: 'string' }, secret: { type: 'string' }, bucket: { type: 'string' }, region: { type: 'string', default: 'us-east-1' },
    path: { type: 'string' }, endpoint: { type: 'string', description: 'http(s) URL of an S3-compatible server' },
    acl: { type: 'string', enum: ['private', 'public-read'] }, session_token: { type: 'string' },
  },
};
const azureStore = {
  type: 'object', required: ['account', 'key', 'container'], description: 'Store the result in Azure Blob Storage; not with s3_store',
  properties: { account: { type: 'string' }, key: { type: 'string' }, container: { type: 'string' }, path: { type: 'string' }, endpoint: { type: 'string' } },
};
const options = {
  api_key: { type: 'string' },
  lossy: { type: 'boolean', default: false },
  quality: { type: 'integer', minimum: 0, maximum: 100 },
  resize,
  s3_store: s3Store,
  azure_store: azureStore,
};
const result = {
  description: 'The processed image', type: 'object',
  required: ['original_size', 'original_width', 'original_height', 'final_size', 'bytes_saved', 'final_width', 'final_height', 'url'],
  properties: {
    original_size: { type: 'integer' }, original_width: { type: 'integer' }, original_height: { type: 'integer' },
    final_size: { type: 'integer' }, bytes_saved: { type: 'integer', description: 'May be negative' },
    final_width: { type: 'integer' }, final_height: { type: 'integer' }, url: { type: 'string', format: 'uri' },
  },
};
const failure = (description: string) => ({
  description, type: 'object', required: ['error'],
  properties: { error: { type: 'object', required: ['message', 'code'], properties: { message: { type: 'string' }, code: { type: 'string' }, details: { type: ['object', 'null'] } } } },
});
const errors = { 400: failure('validation_error'), 401: failure('unauthorized'), 429: failure('too_many_requests'), 503: failure('service_unavailable (busy; retry)') };

export const ABSTRACT_DOC_SCHEMAS: DocSchemas = {
  'POST /v1/url/': {
    tags: ['abstract'], summary: 'Compress / resize an image fetched from a URL (JSON body)',
    body: {
      type: 'object', required: ['api_key', 'url'], properties: { ...options, url: { type: 'string', format: 'uri' } },
      examples: [{ api_key: 'YOUR_API_KEY', url: 'https://images.example.com/photos/harbour.jpg', lossy: true, quality: 75, resize: { width: 100, height: 75, strategy: 'fit' } }],
    },
    response: { 200: result, ...errors },
  },
  'POST /v1/upload/': {
    tags: ['abstract'], summary: 'Compress / resize an uploaded image (multipart: image + data JSON)', consumes: ['multipart/form-data'],
    body: {
      type: 'object', required: ['image', 'data'],
      properties: { image: { type: 'string', format: 'binary' }, data: { type: 'string', description: 'JSON of the options (api_key, lossy, quality, resize)' } },
      examples: [{ image: '(image bytes)', data: '{"api_key":"YOUR_API_KEY","lossy":true,"resize":{"size":100,"strategy":"square"}}' }],
    },
    response: { 200: result, ...errors },
  },
};
