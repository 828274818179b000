/** XML in and out for the OSS protocol (fast-xml-parser). */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { AppError } from '../../core/errors.js';

const builder = new XMLBuilder({ ignoreAttributes: true, format: false, suppressEmptyNode: false, processEntities: true });
// parseTagValue false: keys such as "001" or "true" must stay strings.
const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: false, processEntities: true });

/** Serialises `{ Root: {...} }`; arrays become repeated elements, undefined values are dropped. */
export function toXml(doc: Record<string, unknown>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(doc) as string}`;
}

/** Parses a request body; throws MALFORMED_XML when it is not XML. */
export function parseXml(body: string): Record<string, unknown> {
  try {
    const res = parser.parse(body, true) as Record<string, unknown>;
    if (res === null || typeof res !== 'object') throw new Error('not an object');
    return res;
  } catch (err) {
    throw new AppError('MALFORMED_XML', 'The XML you provided was not well-formed or did not validate against our published schema.', { cause: err });
  }
}

/** Normalises a parsed element that may appear once or many times. */
export function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
