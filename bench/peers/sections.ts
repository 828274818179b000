/** The peers section of docs/benchmarks.md, between markers, so both benchmarks keep each other's part. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const PEERS_BEGIN = '<!-- peers:begin (npm run bench -- --peers) -->';
export const PEERS_END = '<!-- peers:end -->';

/** Replaces (or appends) the peers section of docs/benchmarks.md, keeping everything else. */
export function writePeersSection(file: string, section: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const block = `${PEERS_BEGIN}\n${section}\n${PEERS_END}`;
  const i = text.indexOf(PEERS_BEGIN);
  const j = text.indexOf(PEERS_END);
  const next = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + PEERS_END.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}

/** The peers block of an existing docs/benchmarks.md (kept when the engine benchmark rewrites it). */
export function existingPeersSection(text: string): string | undefined {
  const i = text.indexOf(PEERS_BEGIN);
  const j = text.indexOf(PEERS_END);
  return i >= 0 && j > i ? text.slice(i, j + PEERS_END.length) : undefined;
}
