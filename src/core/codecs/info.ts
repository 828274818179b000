/**
 * The OSS `image/info` answer (spec oss-img.md §3.6): keys sorted, every value `{"value": "<string>"}`.
 *
 * EXIF is read from the raw TIFF structure (sharp hands it over for JPEG, WebP, TIFF, HEIF) so that
 * values can be rendered exactly as exiv2 prints them in Alibaba's samples: rationals as `96/1`,
 * byte arrays as `2 2 0 0`, GPS references spelled out (`North`), GPS coordinates as `0deg `, and
 * IFD pointers (`ExifTag`, `GPSTag`) as their offsets. EXIF of PNG is not returned, as OSS does.
 */
import sharp from 'sharp';
import type { SourceInfo } from '../ir.js';
import { ossFormatName } from '../output/format.js';

type Fields = Record<string, string>;

/** Tags reported, by IFD. Names follow exiv2 (what Alibaba's samples show). */
const IFD0_TAGS: Record<number, string> = {
  0x010e: 'ImageDescription', 0x010f: 'Make', 0x0110: 'Model', 0x0112: 'Orientation', 0x011a: 'XResolution',
  0x011b: 'YResolution', 0x0128: 'ResolutionUnit', 0x0131: 'Software', 0x0132: 'DateTime', 0x013b: 'Artist',
  0x0213: 'YCbCrPositioning', 0x8298: 'Copyright', 0x8769: 'ExifTag', 0x8825: 'GPSTag',
};
const IFD1_TAGS: Record<number, string> = { 0x0103: 'Compression', 0x0201: 'JPEGInterchangeFormat', 0x0202: 'JPEGInterchangeFormatLength' };
const EXIF_TAGS: Record<number, string> = {
  0x829a: 'ExposureTime', 0x829d: 'FNumber', 0x8822: 'ExposureProgram', 0x8827: 'ISOSpeedRatings', 0x9000: 'ExifVersion',
  0x9003: 'DateTimeOriginal', 0x9004: 'DateTimeDigitized', 0x9201: 'ShutterSpeedValue', 0x9202: 'ApertureValue',
  0x9204: 'ExposureBiasValue', 0x9207: 'MeteringMode', 0x9209: 'Flash', 0x920a: 'FocalLength', 0xa001: 'ColorSpace',
  0xa002: 'PixelXDimension', 0xa003: 'PixelYDimension', 0xa402: 'ExposureMode', 0xa403: 'WhiteBalance',
  0xa405: 'FocalLengthIn35mmFilm', 0xa406: 'SceneCaptureType', 0xa434: 'LensModel',
};
const GPS_TAGS: Record<number, string> = {
  0x00: 'GPSVersionID', 0x01: 'GPSLatitudeRef', 0x02: 'GPSLatitude', 0x03: 'GPSLongitudeRef', 0x04: 'GPSLongitude',
  0x05: 'GPSAltitudeRef', 0x06: 'GPSAltitude', 0x07: 'GPSTimeStamp', 0x12: 'GPSMapDatum', 0x1d: 'GPSDateStamp',
};

const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 };

interface Entry {
  readonly tag: number;
  readonly type: number;
  readonly count: number;
  /** Offset of the value bytes in the TIFF buffer. */
  readonly at: number;
  /** The raw 4-byte value/offset field (for IFD pointers). */
  readonly field: number;
}

/** A bounds-checked reader of one IFD; malformed EXIF yields fewer fields, never an exception. */
function readIfd(tiff: Buffer, offset: number, le: boolean): { entries: Entry[]; next: number } {
  const u16 = (o: number): number => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
  const u32 = (o: number): number => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
  if (offset <= 0 || offset + 2 > tiff.length) return { entries: [], next: 0 };
  const n = u16(offset);
  const entries: Entry[] = [];
  for (let i = 0; i < n && i < 1000; i++) {
    const e = offset + 2 + i * 12;
    if (e + 12 > tiff.length) break;
    const type = u16(e + 2);
    const count = u32(e + 4);
    const size = (TYPE_SIZES[type] ?? 0) * count;
    if (size === 0 || size > 65536) continue;
    const at = size <= 4 ? e + 8 : u32(e + 8);
    if (at + size > tiff.length) continue;
    entries.push({ tag: u16(e), type, count, at, field: u32(e + 8) });
  }
  const nextAt = offset + 2 + n * 12;
  return { entries, next: nextAt + 4 <= tiff.length ? u32(nextAt) : 0 };
}

function render(tiff: Buffer, le: boolean, e: Entry, name: string): string {
  const u16 = (o: number): number => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
  const u32 = (o: number): number => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
  const i32 = (o: number): number => (le ? tiff.readInt32LE(o) : tiff.readInt32BE(o));
  if (name === 'ExifTag' || name === 'GPSTag') return String(e.field);
  const values: string[] = [];
  const nums: number[] = [];
  for (let k = 0; k < e.count; k++) {
    switch (e.type) {
      case 1: case 6: case 7: values.push(String(tiff[e.at + k])); break;
      case 3: case 8: values.push(String(u16(e.at + 2 * k))); break;
      case 4: case 9: values.push(String(e.type === 4 ? u32(e.at + 4 * k) : i32(e.at + 4 * k))); break;
      case 5: case 10: {
        const n = e.type === 5 ? u32(e.at + 8 * k) : i32(e.at + 8 * k);
        const d = e.type === 5 ? u32(e.at + 8 * k + 4) : i32(e.at + 8 * k + 4);
        values.push(`${n}/${d}`);
        nums.push(d === 0 ? 0 : n / d);
        break;
      }
      default: break;
    }
  }
  if (e.type === 2) {
    const text = tiff.subarray(e.at, e.at + e.count).toString('latin1').replace(/\0+$/, '').trim();
    if (name === 'GPSLatitudeRef') return text === 'N' ? 'North' : text === 'S' ? 'South' : text;
    if (name === 'GPSLongitudeRef') return text === 'E' ? 'East' : text === 'W' ? 'West' : text;
    return text;
  }
  if ((name === 'GPSLatitude' || name === 'GPSLongitude') && nums.length === 3) {
    const [d, m, s] = nums as [number, number, number];
    // exiv2 prints whole degrees then minutes/seconds only when present: "0deg ", "41deg 24' 12.20\"".
    const deg = `${Math.round(d)}deg `;
    if (m === 0 && s === 0) return deg;
    return `${deg}${Math.round(m)}' ${s.toFixed(2)}"`;
  }
  if (e.type === 7 && name === 'ExifVersion') return tiff.subarray(e.at, e.at + e.count).toString('latin1');
  return values.join(' ');
}

/** Reads the reported EXIF fields from a TIFF structure ("II*\0…" or "MM\0*…"). */
export function exifFields(exif: Buffer): Fields {
  const start = exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? 6 : 0;
  const tiff = exif.subarray(start);
  if (tiff.length < 8) return {};
  const order = tiff.subarray(0, 2).toString('latin1');
  if (order !== 'II' && order !== 'MM') return {};
  const le = order === 'II';
  const out: Fields = {};
  const collect = (offset: number, names: Record<number, string>): Entry[] => {
    const { entries } = readIfd(tiff, offset, le);
    for (const e of entries) {
      const name = names[e.tag];
      if (name) out[name] = render(tiff, le, e, name);
    }
    return entries;
  };
  const ifd0Offset = le ? tiff.readUInt32LE(4) : tiff.readUInt32BE(4);
  const ifd0 = collect(ifd0Offset, IFD0_TAGS);
  const next = readIfd(tiff, ifd0Offset, le).next;
  if (next > 0) collect(next, IFD1_TAGS);
  const exifPtr = ifd0.find((e) => e.tag === 0x8769);
  if (exifPtr) collect(exifPtr.field, EXIF_TAGS);
  const gpsPtr = ifd0.find((e) => e.tag === 0x8825);
  if (gpsPtr) collect(gpsPtr.field, GPS_TAGS);
  return out;
}

/** JFIF density (JPEG without EXIF resolution): units 0 → "1", 1 (dpi) → "2", 2 (dpcm) → "3". */
function jfifResolution(buf: Buffer): Fields {
  const i = buf.indexOf(Buffer.from('JFIF\0', 'latin1'));
  if (i < 0 || i > 64 || i + 12 > buf.length) return {};
  const units = buf[i + 7] as number;
  const x = buf.readUInt16BE(i + 8);
  const y = buf.readUInt16BE(i + 10);
  return { ResolutionUnit: String(units + 1), XResolution: `${x}/1`, YResolution: `${y}/1` };
}

/** Builds the info JSON string (keys sorted). */
export async function ossInfo(buf: Buffer, info: SourceInfo): Promise<string> {
  let fields: Fields = {};
  if (info.format === 'jpeg') fields = jfifResolution(buf);
  if (info.format !== 'png' && info.format !== 'bmp' && info.format !== 'gif') {
    try {
      const meta = await sharp(buf, { limitInputPixels: false }).metadata();
      if (meta.exif) fields = { ...fields, ...exifFields(meta.exif) };
    } catch {
      // Unreadable metadata: report the basic fields only.
    }
  }
  fields = {
    ...fields,
    FileSize: String(info.bytes),
    Format: ossFormatName(info.format),
    FrameCount: String(info.frames),
    ImageHeight: String(info.height),
    ImageWidth: String(info.width),
  };
  const sorted = Object.keys(fields).sort();
  return JSON.stringify(Object.fromEntries(sorted.map((k) => [k, { value: fields[k] }])));
}
