/**
 * WebhookSender over undici: one JSON POST per call, with a time limit. The URLs come from the
 * operator's configuration (HALFTONE_NOTIFY_TOPICS), never from a request, so no SSRF policy
 * applies; redirects are not followed.
 */
import { loadUndici } from '../source/undici-lazy.js';
import type { WebhookSender } from '../../ports/webhook.js';

export interface WebhookOptions {
  /** Time limit of one attempt (default 10 s). */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
}

export function createWebhookSender(options: WebhookOptions = {}): WebhookSender {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async post(url, body, signal) {
      const timeout = AbortSignal.timeout(timeoutMs);
      const { request } = await loadUndici();
      const res = await request(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'user-agent': options.userAgent ?? 'Halftone-Notify/0.1' },
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      // Drain the body so the connection can be reused.
      await res.body.dump();
      return { status: res.statusCode };
    },
  };
}
