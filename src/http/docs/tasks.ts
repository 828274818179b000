/**
 * Documentation schemas of the PicWish-style compression task API (spec compress-task-api.md).
 * They attach when routes with these templates are registered (registry.ts); until then they are
 * unused. Examples: create a sync task from an uploaded file (multipart) or from an image URL
 * (form-encoded or JSON), then query it by the `task_id` the create call returned
 * (`x-example-from`, read by test/ops/openapi.test.ts, which fetches example URLs from loopback).
 */
import type { DocSchemas } from './types.js';

const TASKS = '/api/tasks/visual/imgcompress';
const failure = (description: string) => ({
  description, type: 'object', required: ['status', 'message'],
  properties: { status: { type: 'integer' }, message: { type: 'string' } },
});
const taskData = {
  type: 'object', required: ['task_id', 'state'],
  properties: {
    task_id: { type: 'string' },
    state: { type: 'integer', description: '1 done; 0 queued; 2–6 working; < 0 failed (spec §3.1)' },
    progress: { type: 'integer', minimum: 0, maximum: 100 },
    image: { type: 'string', description: 'Result URL (return_type=1) or base64 (return_type=2); present when state is 1' },
    state_detail: { type: 'string' },
    return_type: { type: 'integer' },
    created_at: { type: ['integer', 'string'] }, processed_at: { type: ['integer', 'string'] }, completed_at: { type: ['integer', 'string'] },
  },
};
const success = (data: Record<string, unknown>, description: string) => ({
  description, type: 'object', required: ['status', 'message', 'data'],
  properties: { status: { type: 'integer', const: 200 }, message: { type: 'string' }, data },
});
const errors = {
  400: failure('Invalid parameters'),
  401: failure('Missing or unknown X-API-KEY'),
  429: failure('Over the request-rate limit'),
};

/** The options every form of the create call takes (multipart, form-encoded or JSON). */
const options = {
  sync: { type: 'integer', enum: [0, 1], default: 0 },
  format: { type: 'string', enum: ['jpg', 'jpeg', 'png', 'webp'], description: 'Output format (default: the input\'s)' },
  return_type: { type: 'integer', enum: [1, 2], default: 1, description: '1 result URL, 2 base64' },
  quality: { type: 'integer', minimum: 1, maximum: 100, description: 'Not with kbyte' },
  kbyte: { type: 'integer', minimum: 0, maximum: 51200, description: 'Target size in KB (0 = none); not with quality' },
  width: { type: 'integer', minimum: 0, maximum: 8000 },
  height: { type: 'integer', minimum: 0, maximum: 8000 },
};
const urlOptions = { image_url: { type: 'string', format: 'uri', maxLength: 2048, description: 'http(s) URL of the image (fetched server-side; public hosts or HALFTONE_ALLOWED_ORIGINS)' }, ...options };
const urlExample = { image_url: 'https://images.example.com/photos/harbour.jpg', sync: 1, format: 'jpg', kbyte: 20 };

export const TASKS_DOC_SCHEMAS: DocSchemas = {
  [`POST ${TASKS}`]: {
    tags: ['tasks'], summary: 'Create a compression task (file upload or image_url; sync=1 waits for the result)',
    security: [{ apiKey: [] }],
    body: {
      content: {
        'multipart/form-data': {
          schema: { type: 'object', properties: { image_file: { type: 'string', format: 'binary', description: 'The image (≤ 20 MB, ≤ 8000×8000); or give image_url' }, ...options },
            examples: [{ image_file: '(image bytes)', sync: 1, format: 'webp', quality: 70 }] },
        },
        'application/x-www-form-urlencoded': { schema: { type: 'object', required: ['image_url'], properties: urlOptions, examples: [urlExample] } },
        'application/json': { schema: { type: 'object', required: ['image_url'], properties: urlOptions, examples: [urlExample] } },
      },
    },
    response: { 200: success(taskData, 'Task created (async: only task_id) or finished (sync)'), ...errors, 413: failure('Upload larger than 20 MB'), 503: failure('Task backlog full (HALFTONE_MAX_JOB_BACKLOG); retry after Retry-After seconds') },
  },
  [`GET ${TASKS}/:task_id`]: {
    tags: ['tasks'], summary: 'Query a task', security: [{ apiKey: [] }],
    'x-example-from': { task_id: { operation: `POST ${TASKS}`, pointer: '/data/task_id' } },
    params: { type: 'object', required: ['task_id'], properties: { task_id: { type: 'string', examples: ['(from the create call)'] } } },
    response: { 200: success(taskData, 'The task'), ...errors, 404: failure('Unknown or expired task_id') },
  },
};
