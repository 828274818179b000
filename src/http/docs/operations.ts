/** Documentation schemas of the operator endpoints (`/healthz`, `/readyz`, `/metrics`). */
import type { DocSchemas } from './types.js';

const check = {
  type: 'object', required: ['ok', 'required', 'detail', 'ms'],
  properties: { ok: { type: 'boolean' }, required: { type: 'boolean' }, detail: { type: 'string' }, ms: { type: 'integer' } },
};
const readiness = {
  type: 'object', required: ['status', 'checks'],
  properties: { status: { type: 'string', enum: ['ready', 'not-ready'] }, checks: { type: 'object', additionalProperties: check } },
};

export const OPS_DOC_SCHEMAS: DocSchemas = {
  'GET /healthz': {
    tags: ['operations'], summary: 'Liveness: the process answers',
    response: { 200: { description: 'Alive', type: 'object', required: ['status'], properties: { status: { type: 'string', const: 'ok' } } } },
  },
  'GET /readyz': {
    tags: ['operations'], summary: 'Readiness: storage, job queue, ffmpeg and the HEIC encoder',
    description: 'Storage (a probe blob written, read back and removed) and the job queue are required; ffmpeg and heif-enc are reported but only disable the features that need them.',
    response: {
      200: { description: 'Every required check passed', ...readiness },
      503: { description: 'A required check failed', ...readiness },
    },
  },
  'GET /metrics': {
    tags: ['operations'], summary: 'Prometheus metrics (text exposition format)',
    produces: ['text/plain'],
    response: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } } },
  },
};
