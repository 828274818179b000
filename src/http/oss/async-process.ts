/**
 * OSS asynchronous processing over HTTP:
 *
 * - `POST /<key>?x-oss-async-process` with body `x-oss-async-process=video/animation,...|sys/saveas,...`
 *   → 200 JSON `{"EventId","RequestId","TaskId"}` (spec oss-video-animation.md §3.1);
 * - Halftone extension: `GET /?x-oss-async-task&taskId=<id>` → the task as JSON (IMM content plus
 *   State and Progress); `DELETE` with the same query cancels it and answers the same JSON.
 *
 * Anonymous requests are denied (the docs: async processing needs a signature). Errors are thrown
 * and presented as OSS XML by the routes.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.js';
import { parseAnimationParams, parseAsyncProcessBody } from '../../dialects/oss/video.js';
import type { ObjectService } from '../../app/oss-objects.js';
import type { VideoAnimations } from '../../app/video-animation.js';
import type { AuthResult } from './auth.js';
import { decodeContentMd5, readSmallBody } from './request.js';

export interface AsyncProcessDeps {
  readonly video: VideoAnimations;
}

/** What the routes know about the request. */
export interface AsyncRequestCtx {
  readonly req: FastifyRequest;
  readonly reply: FastifyReply;
  readonly method: string;
  readonly bucket: string;
  readonly key: string;
  readonly query: ReadonlyMap<string, string>;
  readonly auth: AuthResult;
}

const BODY_LIMIT = 64 * 1024;

/** True for the requests this module answers. */
export function isAsyncRequest(query: ReadonlyMap<string, string>): boolean {
  return query.has('x-oss-async-process') || query.has('x-oss-async-task');
}

function sendJson(reply: FastifyReply, doc: unknown): void {
  reply.code(200).header('content-type', 'application/json').send(JSON.stringify(doc));
}

/** Handles one async-process or task request (see the module comment). */
export async function handleAsyncRequest(c: AsyncRequestCtx, deps: AsyncProcessDeps, objects: ObjectService): Promise<void> {
  if (c.auth.kind !== 'signed') throw new AppError('ACCESS_DENIED', 'Asynchronous processing requires a signed request; anonymous access is denied.');
  if (c.query.has('x-oss-async-task')) {
    const taskId = c.query.get('taskId') ?? '';
    if (taskId === '') throw new AppError('INVALID_ARGUMENT', 'Expected a taskId query parameter.');
    if (c.method === 'GET') return sendJson(c.reply, await deps.video.status(taskId));
    if (c.method === 'DELETE') return sendJson(c.reply, await deps.video.cancel(taskId));
    throw new AppError('METHOD_NOT_ALLOWED', 'Use GET (status) or DELETE (cancel) with ?x-oss-async-task.');
  }
  if (c.method !== 'POST') throw new AppError('METHOD_NOT_ALLOWED', 'x-oss-async-process requires POST.');
  if (c.bucket === '' || c.key === '') throw new AppError('INVALID_ARGUMENT', 'x-oss-async-process needs a source object: POST /<key>?x-oss-async-process.');
  objects.checkObjectKey(c.key);
  const body = await readSmallBody(c.req.raw, BODY_LIMIT);
  const md5 = decodeContentMd5(headerOf(c.req, 'content-md5'));
  if (md5 !== undefined && !md5.equals(createHash('md5').update(body).digest())) {
    throw new AppError('INVALID_DIGEST', 'The Content-MD5 you specified did not match what we received.');
  }
  const parsed = parseAsyncProcessBody(body.toString('utf8'));
  const process = parsed.process.startsWith('style/') ? (await objects.getStyle(c.bucket, parsed.process.slice('style/'.length))).content : parsed.process;
  const params = parseAnimationParams(process);
  const ack = await deps.video.submit({ bucket: c.bucket, key: c.key, params, saveas: parsed.saveas, topic: parsed.topic });
  sendJson(c.reply, ack);
}

function headerOf(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}
