/**
 * Documentation schemas of the Images REST API subset (src/http/cloudflare/images.ts). The
 * handlers validate input themselves and answer in Cloudflare's envelope; these schemas only
 * describe the routes (see registry.ts). Examples form one runnable sequence: upload `example`,
 * read/patch it, create/delete the key `example-key` and the variant `thumb`, delete `example`.
 */
import type { DocSchema, DocSchemas } from './types.js';

const BASE = '/client/v4/accounts/:account/images';
const ACCOUNT = { type: 'object', required: ['account'], properties: { account: { type: 'string', description: 'Account id (HALFTONE_CF_ACCOUNT_ID)', examples: ['halftone'] } } };
const withAccount = (name: string, description: string, example: string) => ({
  type: 'object', required: ['account', name],
  properties: { ...ACCOUNT.properties, [name]: { type: 'string', description, examples: [example] } },
});

const message = { type: 'object', properties: { code: { type: 'integer' }, message: { type: 'string' } } };
/** `{result, success, errors, messages}` with `result` of the given schema. */
const envelope = (result: Record<string, unknown>, description = 'Success') => ({
  description, type: 'object', required: ['result', 'success', 'errors', 'messages'],
  properties: { result, success: { type: 'boolean', const: true }, errors: { type: 'array', items: message }, messages: { type: 'array', items: message } },
});
const failure = (description: string) => ({
  description, type: 'object', required: ['success', 'errors'],
  properties: { result: { type: 'null' }, success: { type: 'boolean', const: false }, errors: { type: 'array', items: message }, messages: { type: 'array', items: message } },
});
const errors = {
  400: failure('Invalid request (code 5400)'),
  401: failure('Missing or unknown Bearer token (code 10000)'),
  403: failure('Wrong account (code 5403)'),
  404: failure('No such image or variant (code 5404)'),
};

const image = {
  type: 'object', required: ['id', 'filename', 'uploaded', 'requireSignedURLs', 'variants'],
  properties: {
    id: { type: 'string' }, filename: { type: 'string' },
    meta: { type: 'object', additionalProperties: true }, metadata: { type: 'object', additionalProperties: true },
    uploaded: { type: 'string', format: 'date-time' }, requireSignedURLs: { type: 'boolean' }, creator: { type: 'string' },
    variants: { type: 'array', items: { type: 'string', format: 'uri' }, description: 'Delivery URLs, one per variant' },
  },
};
const variantOptions = {
  type: 'object', required: ['fit'],
  properties: {
    fit: { type: 'string', enum: ['scale-down', 'contain', 'cover', 'crop', 'pad'] },
    width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 },
    metadata: { type: 'string', enum: ['keep', 'copyright', 'none'] },
  },
};
const variant = {
  type: 'object', required: ['id', 'options'],
  properties: { id: { type: 'string' }, options: variantOptions, neverRequireSignedURLs: { type: 'boolean' }, browser_ttl: { type: 'integer' } },
};
const accountConfig = { type: 'object', properties: { flexible_variants: { type: 'boolean' }, browser_ttl: { type: 'integer' } } };
const keys = { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, value: { type: 'string' } } } } } };
const empty = { type: 'object' };

const uploadForm = {
  type: 'object',
  properties: {
    file: { type: 'string', format: 'binary', description: 'The image (≤ 10 MB); or give `url`' },
    url: { type: 'string', format: 'uri', description: 'Fetch the image from this URL instead of `file`' },
    id: { type: 'string', description: 'Custom id (default: a generated UUID)' },
    metadata: { type: 'string', description: 'JSON object stored with the image' },
    requireSignedURLs: { type: 'string', enum: ['true', 'false'] },
    creator: { type: 'string' },
  },
  examples: [{ file: '(image bytes)', id: 'example', metadata: '{"source":"docs"}' }],
};

const op = (s: Record<string, unknown> & { readonly summary: string }): DocSchema => ({ tags: ['images'], security: [{ bearer: [] }], ...s });

export const IMAGES_DOC_SCHEMAS: DocSchemas = {
  [`POST ${BASE}/v1`]: op({
    summary: 'Upload an image (multipart: file or url)', consumes: ['multipart/form-data'],
    params: ACCOUNT, body: uploadForm,
    response: { 200: envelope(image), ...errors, 413: failure('Image larger than 10 MB (code 5413)'), 415: failure('Not multipart, or not an image (5415 / 5455)') },
  }),
  [`POST ${BASE}/v2/direct_upload`]: op({
    summary: 'Create a one-time upload URL (direct creator upload)', consumes: ['multipart/form-data'],
    params: ACCOUNT,
    body: {
      type: 'object',
      properties: { id: { type: 'string' }, metadata: { type: 'string' }, requireSignedURLs: { type: 'string', enum: ['true', 'false'] }, expiry: { type: 'string', format: 'date-time' } },
      examples: [{ id: 'example-draft' }],
    },
    response: { 200: envelope({ type: 'object', required: ['id', 'uploadURL'], properties: { id: { type: 'string' }, uploadURL: { type: 'string', format: 'uri' } } }), ...errors },
  }),
  'POST /cdn-cgi/imageupload/:hash/:id': {
    tags: ['images'], security: [],
    summary: 'Complete a direct upload (the one-time upload URL; no credentials)', consumes: ['multipart/form-data'],
    params: {
      type: 'object', required: ['hash', 'id'],
      properties: { hash: { type: 'string', description: 'Account hash (HALFTONE_CF_ACCOUNT_HASH)', examples: ['halftone'] }, id: { type: 'string', description: 'Draft id from direct_upload', examples: ['example-draft'] } },
    },
    body: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary' } }, examples: [{ file: '(image bytes)' }] },
    response: { 200: envelope(image), 400: failure('No file part (5400)'), 403: failure('Unknown, used or expired draft (5403)'), 415: failure('Not multipart, or not an image') },
  },
  [`GET ${BASE}/v2`]: op({
    summary: 'List images (cursor pagination)', params: ACCOUNT,
    querystring: {
      type: 'object',
      properties: {
        per_page: { type: 'integer', minimum: 10, maximum: 10000, default: 1000, examples: [100] },
        continuation_token: { type: 'string' },
        sort_order: { type: 'string', enum: ['asc', 'desc'], examples: ['desc'] },
      },
    },
    response: { 200: envelope({ type: 'object', required: ['images'], properties: { images: { type: 'array', items: image }, continuation_token: { type: ['string', 'null'] } } }), ...errors },
  }),
  [`GET ${BASE}/v1`]: op({
    summary: 'List images (page numbers)', params: ACCOUNT,
    querystring: { type: 'object', properties: { page: { type: 'integer', minimum: 1, examples: [1] }, per_page: { type: 'integer', minimum: 10, maximum: 100, examples: [50] } } },
    response: { 200: envelope({ type: 'object', required: ['images'], properties: { images: { type: 'array', items: image } } }), ...errors },
  }),
  [`GET ${BASE}/v1/stats`]: op({
    summary: 'Image count', params: ACCOUNT,
    response: { 200: envelope({ type: 'object', properties: { count: { type: 'object', properties: { allowed: { type: 'integer' }, current: { type: 'integer' } } } } }), ...errors },
  }),
  [`GET ${BASE}/v1/config`]: op({ summary: 'Account settings', params: ACCOUNT, response: { 200: envelope(accountConfig), ...errors } }),
  [`PATCH ${BASE}/v1/config`]: op({
    summary: 'Change account settings (flexible variants, browser TTL)', params: ACCOUNT,
    body: { ...accountConfig, examples: [{ flexible_variants: true }] },
    response: { 200: envelope(accountConfig), ...errors },
  }),
  [`GET ${BASE}/v1/keys`]: op({ summary: 'List URL-signing keys', params: ACCOUNT, response: { 200: envelope(keys), ...errors } }),
  [`PUT ${BASE}/v1/keys/:name`]: op({ summary: 'Create (or roll) a URL-signing key', params: withAccount('name', 'Key name', 'example-key'), response: { 200: envelope(keys), ...errors } }),
  [`DELETE ${BASE}/v1/keys/:name`]: op({ summary: 'Delete a URL-signing key', params: withAccount('name', 'Key name', 'example-key'), response: { 200: envelope(keys), ...errors } }),
  [`GET ${BASE}/v1/variants`]: op({
    summary: 'List variants', params: ACCOUNT,
    response: { 200: envelope({ type: 'object', properties: { variants: { type: 'object', additionalProperties: variant } } }), ...errors },
  }),
  [`POST ${BASE}/v1/variants`]: op({
    summary: 'Create a variant', params: ACCOUNT,
    body: { ...variant, examples: [{ id: 'thumb', options: { fit: 'scale-down', width: 200, height: 200, metadata: 'none' }, neverRequireSignedURLs: false }] },
    response: { 200: envelope({ type: 'object', properties: { variant } }), ...errors, 409: failure('Variant exists') },
  }),
  [`GET ${BASE}/v1/variants/:name`]: op({ summary: 'Get a variant', params: withAccount('name', 'Variant id', 'thumb'), response: { 200: envelope({ type: 'object', properties: { variant } }), ...errors } }),
  [`PATCH ${BASE}/v1/variants/:name`]: op({
    summary: 'Change a variant', params: withAccount('name', 'Variant id', 'thumb'),
    body: { type: 'object', properties: { options: variantOptions, neverRequireSignedURLs: { type: 'boolean' } }, examples: [{ options: { fit: 'cover', width: 160, height: 160 } }] },
    response: { 200: envelope({ type: 'object', properties: { variant } }), ...errors },
  }),
  [`DELETE ${BASE}/v1/variants/:name`]: op({ summary: 'Delete a variant', params: withAccount('name', 'Variant id', 'thumb'), response: { 200: envelope(empty), ...errors } }),
  [`GET ${BASE}/v1/*`]: op({
    summary: 'Image details (`…/v1/{image_id}/blob`: the original bytes)', params: withAccount('image_id', 'Image id (may contain /)', 'example'),
    response: { 200: envelope(image), ...errors },
  }),
  [`PATCH ${BASE}/v1/*`]: op({
    summary: 'Change an image (requireSignedURLs, metadata, creator)', params: withAccount('image_id', 'Image id', 'example'),
    body: { type: 'object', properties: { requireSignedURLs: { type: 'boolean' }, metadata: { type: 'object', additionalProperties: true }, creator: { type: 'string' } }, examples: [{ metadata: { source: 'docs', edited: true } }] },
    response: { 200: envelope(image), ...errors },
  }),
  [`DELETE ${BASE}/v1/*`]: op({ summary: 'Delete an image', params: withAccount('image_id', 'Image id', 'example'), response: { 200: envelope(empty), ...errors } }),
};
