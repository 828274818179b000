/**
 * The origin result URLs are built on: HALFTONE_PUBLIC_URL when set, else the request's own (Host,
 * and X-Forwarded-Proto when a proxy in front terminates TLS).
 */
import type { FastifyRequest } from 'fastify';

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** `publicUrl`: the configured origin ('' = none), with or without a trailing slash. */
export function publicOrigin(req: FastifyRequest, publicUrl: string): string {
  if (publicUrl !== '') return publicUrl.replace(/\/+$/, '');
  const fwd = header(req, 'x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
  const proto = fwd === 'http' || fwd === 'https' ? fwd : req.protocol;
  return `${proto}://${header(req, 'host') ?? 'localhost'}`;
}
