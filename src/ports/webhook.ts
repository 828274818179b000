/**
 * WebhookSender: one HTTP POST of a JSON notification to an operator-configured URL. Retries,
 * backoff and logging are the caller's (they run as durable jobs); one call is one attempt.
 */
export interface WebhookSender {
  /** Resolves with the response status; rejects on network errors and on the time limit. */
  post(url: string, body: string, signal?: AbortSignal): Promise<{ status: number }>;
}
