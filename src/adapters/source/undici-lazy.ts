/**
 * undici, imported on first use: its index loads every part of it (fetch, WebSocket, cache…), about
 * 3.7 MB of V8 heap, and a server that never fetches a remote source or sends a webhook should not
 * carry that (a larger heap makes every major GC dearer: docs/operations-perf.md).
 */
import type { Agent, buildConnector, request } from 'undici';

/** The parts of undici Halftone uses. */
export interface Undici {
  readonly request: typeof request;
  readonly Agent: typeof Agent;
  readonly buildConnector: typeof buildConnector;
}

let loading: Promise<Undici> | undefined;

export function loadUndici(): Promise<Undici> {
  return (loading ??= import('undici').then((m) => ({ request: m.request, Agent: m.Agent, buildConnector: m.buildConnector })));
}
