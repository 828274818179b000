/**
 * Documentation schemas of the Abstract-style Images API (spec abstract-api.md). They attach when
 * routes with these templates are registered (registry.ts); until then they are unused. The
 * examples' `YOUR_API_KEY` is replaced by a configured key in test/ops/openapi.test.ts.
 */
import type { DocSchemas } from './types.js';

const resize = {
  type: 'object', required: ['strategy'],
  properties: {
    strategy: { type: 'string', enum: ['exact', 'portrait', 'landscape', 'auto', 'fit', 'crop', 'square', 'fill'] },
    width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 }, size: { type: 'integer', minimum: 1 },
    crop_mode: { type: 'string' }, x: { type: 'integer' }, y: { type: 'integer' }, scale: { type: 'integer' }, background: { type: 'string' },
  },
};
const options = {
  api_key: { type: 'string' },
  lossy: { type: 'boolean', default: false },
  quality: { type: 'integer', minimum: 0, maximum: 100 },
  resize,
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
const errors = { 400: failure('validation_error'), 401: failure('unauthorized'), 429: failure('too_many_requests') };

export const ABSTRACT_DOC_SCHEMAS: DocSchemas = {
  'POST /v1/url/': {
    tags: ['abstract'], summary: 'Compress / resize an image fetched from a URL (JSON body)',
    body: {
      type: 'object', required: ['api_key', 'url'], properties: { ...options, url: { type: 'string', format: 'uri' } },
      // The example URL is the server's own public object, so the example runs against any instance.
      examples: [{ api_key: 'YOUR_API_KEY', url: '(a public image URL)', lossy: true, quality: 75, resize: { width: 100, height: 75, strategy: 'fit' } }],
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
