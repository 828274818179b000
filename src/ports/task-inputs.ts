/**
 * TaskInputs: bytes a background task keeps between the request that created it and its run
 * (an uploaded source image), and small private outputs it hands back later (a base64 result).
 *
 * Job payloads stay small JSON; the bytes live here under a name derived from the task id. A
 * task's bytes are removed when it settles or expires.
 */
export interface TaskInputs {
  /** Stores `bytes` under `name` atomically (a reader sees all of it or nothing). */
  put(name: string, bytes: Buffer): Promise<void>;
  /** The bytes stored under `name`, or undefined when there are none. */
  get(name: string): Promise<Buffer | undefined>;
  /** Removes `name`; unknown names are ignored. */
  remove(name: string): Promise<void>;
  /** Every stored name (for the start-up removal of orphans). */
  list(): Promise<string[]>;
}
