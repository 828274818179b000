/**
 * The OSS `image/info` answer (spec oss-img.md §3.6): keys sorted, every value `{"value": "<string>"}`.
 *
 * Always: FileSize, Format, FrameCount, ImageHeight, ImageWidth (stored size of one frame, EXIF
 * orientation not applied). ResolutionUnit/XResolution/YResolution when the file carries them
 * (EXIF, TIFF tags, or a JFIF density). EXIF tags when present, except for PNG (OSS does not
 * return PNG EXIF).
 *
 * EXIF is read from the raw TIFF structure (sharp hands over the EXIF block of JPEG, WebP, HEIF
 * and AVIF; a TIFF file is its own structure) so that values can be rendered as in Alibaba's
 * samples, which follow exiv2's value strings: rationals as `96/1`, byte and short arrays
 * space-separated (`2 2 0 0`), strings without trailing NULs, IFD pointers (`ExifTag`, `GPSTag`)
 * and the thumbnail pointer (`JPEGInterchangeFormat`) as their offsets; GPS references spelled out
 * (`North`, `East`) and GPS coordinates in degrees (`0deg `), as in the f.jpg sample.
 * Unknown tags, maker notes and large binary blobs are left out. A malformed EXIF block yields
 * fewer fields, never an error.
 */
import sharp from 'sharp';
import type { SourceInfo } from '../ir.js';
import { ossFormatName } from '../output/format.js';
import { sharpReadableAvif } from './sniff.js';

type Fields = Record<string, string>;

/**
 * IFD0 (and TIFF page) tags, exiv2 names (Exif.Image.*). ImageWidth/ImageLength are left out: the
 * reported size is always the real stored size, not what an EXIF block claims.
 */
const IFD0_TAGS: Record<number, string> = {
  0x0102: 'BitsPerSample', 0x0103: 'Compression',
  0x0106: 'PhotometricInterpretation', 0x010d: 'DocumentName', 0x010e: 'ImageDescription', 0x010f: 'Make', 0x0110: 'Model',
  0x0111: 'StripOffsets', 0x0112: 'Orientation', 0x0115: 'SamplesPerPixel', 0x0116: 'RowsPerStrip', 0x0117: 'StripByteCounts',
  0x011a: 'XResolution', 0x011b: 'YResolution', 0x011c: 'PlanarConfiguration', 0x0128: 'ResolutionUnit',
  0x012d: 'TransferFunction', 0x0131: 'Software', 0x0132: 'DateTime', 0x013b: 'Artist', 0x013c: 'HostComputer',
  0x013e: 'WhitePoint', 0x013f: 'PrimaryChromaticities', 0x0211: 'YCbCrCoefficients', 0x0212: 'YCbCrSubSampling',
  0x0213: 'YCbCrPositioning', 0x0214: 'ReferenceBlackWhite', 0x8298: 'Copyright', 0x8769: 'ExifTag', 0x8825: 'GPSTag',
  0x9c9b: 'XPTitle', 0x9c9c: 'XPComment', 0x9c9d: 'XPAuthor', 0x9c9e: 'XPKeywords', 0x9c9f: 'XPSubject', 0x4746: 'Rating',
  0x4749: 'RatingPercent',
};
/** IFD1 (thumbnail) tags that exiv2 names like IFD0 ones; only the ones OSS's sample shows. */
const IFD1_TAGS: Record<number, string> = {
  0x0103: 'Compression', 0x0201: 'JPEGInterchangeFormat', 0x0202: 'JPEGInterchangeFormatLength',
};
/** Exif sub-IFD tags (Exif.Photo.*). */
const EXIF_TAGS: Record<number, string> = {
  0x829a: 'ExposureTime', 0x829d: 'FNumber', 0x8822: 'ExposureProgram', 0x8824: 'SpectralSensitivity',
  0x8827: 'ISOSpeedRatings', 0x8830: 'SensitivityType', 0x8832: 'RecommendedExposureIndex', 0x9000: 'ExifVersion',
  0x9003: 'DateTimeOriginal', 0x9004: 'DateTimeDigitized', 0x9010: 'OffsetTime', 0x9011: 'OffsetTimeOriginal',
  0x9012: 'OffsetTimeDigitized', 0x9101: 'ComponentsConfiguration', 0x9102: 'CompressedBitsPerPixel',
  0x9201: 'ShutterSpeedValue', 0x9202: 'ApertureValue', 0x9203: 'BrightnessValue', 0x9204: 'ExposureBiasValue',
  0x9205: 'MaxApertureValue', 0x9206: 'SubjectDistance', 0x9207: 'MeteringMode', 0x9208: 'LightSource', 0x9209: 'Flash',
  0x920a: 'FocalLength', 0x9214: 'SubjectArea', 0x9290: 'SubSecTime', 0x9291: 'SubSecTimeOriginal',
  0x9292: 'SubSecTimeDigitized', 0xa000: 'FlashpixVersion', 0xa001: 'ColorSpace', 0xa002: 'PixelXDimension',
  0xa003: 'PixelYDimension', 0xa005: 'InteroperabilityTag', 0xa20e: 'FocalPlaneXResolution',
  0xa20f: 'FocalPlaneYResolution', 0xa210: 'FocalPlaneResolutionUnit', 0xa215: 'ExposureIndex', 0xa217: 'SensingMethod',
  0xa300: 'FileSource', 0xa301: 'SceneType', 0xa401: 'CustomRendered', 0xa402: 'ExposureMode', 0xa403: 'WhiteBalance',
  0xa404: 'DigitalZoomRatio', 0xa405: 'FocalLengthIn35mmFilm', 0xa406: 'SceneCaptureType', 0xa407: 'GainControl',
  0xa408: 'Contrast', 0xa409: 'Saturation', 0xa40a: 'Sharpness', 0xa40c: 'SubjectDistanceRange',
  0xa420: 'ImageUniqueID', 0xa430: 'CameraOwnerName', 0xa431: 'BodySerialNumber', 0xa432: 'LensSpecification',
  0xa433: 'LensMake', 0xa434: 'LensModel', 0xa435: 'LensSerialNumber',
};
/** GPS sub-IFD tags (Exif.GPSInfo.*). */
const GPS_TAGS: Record<number, string> = {
  0x00: 'GPSVersionID', 0x01: 'GPSLatitudeRef', 0x02: 'GPSLatitude', 0x03: 'GPSLongitudeRef', 0x04: 'GPSLongitude',
  0x05: 'GPSAltitudeRef', 0x06: 'GPSAltitude', 0x07: 'GPSTimeStamp', 0x08: 'GPSSatellites', 0x09: 'GPSStatus',
  0x0a: 'GPSMeasureMode', 0x0b: 'GPSDOP', 0x0c: 'GPSSpeedRef', 0x0d: 'GPSSpeed', 0x0e: 'GPSTrackRef', 0x0f: 'GPSTrack',
  0x10: 'GPSImgDirectionRef', 0x11: 'GPSImgDirection', 0x12: 'GPSMapDatum', 0x13: 'GPSDestLatitudeRef',
  0x14: 'GPSDestLatitude', 0x15: 'GPSDestLongitudeRef', 0x16: 'GPSDestLongitude', 0x17: 'GPSDestBearingRef',
  0x18: 'GPSDestBearing', 0x19: 'GPSDestDistanceRef', 0x1a: 'GPSDestDistance', 0x1b: 'GPSProcessingMethod',
  0x1c: 'GPSAreaInformation', 0x1d: 'GPSDateStamp', 0x1e: 'GPSDifferential', 0x1f: 'GPSHPositioningError',
};
/** Tags never reported for a TIFF source: they describe its own strips, not metadata. */
const TIFF_STRUCTURE_TAGS = new Set([
  'BitsPerSample', 'PhotometricInterpretation', 'StripOffsets', 'SamplesPerPixel',
  'RowsPerStrip', 'StripByteCounts', 'PlanarConfiguration', 'TransferFunction',
]);

const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4 };
/** Longest value rendered (bytes); longer ones (embedded blobs) are left out. */
const MAX_VALUE_BYTES = 4096;

interface Entry {
  readonly tag: number;
  readonly type: number;
  readonly count: number;
  /** Offset of the value bytes in the TIFF buffer. */
  readonly at: number;
  /** The raw 4-byte value/offset field (IFD pointers are reported as this). */
  readonly field: number;
}

interface Reader {
  readonly tiff: Buffer;
  readonly le: boolean;
  u16(o: number): number;
  u32(o: number): number;
  i32(o: number): number;
}

function reader(tiff: Buffer, le: boolean): Reader {
  return {
    tiff,
    le,
    u16: (o) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o)),
    u32: (o) => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o)),
    i32: (o) => (le ? tiff.readInt32LE(o) : tiff.readInt32BE(o)),
  };
}

/** A bounds-checked reader of one IFD. */
function readIfd(r: Reader, offset: number): { entries: Entry[]; next: number } {
  const { tiff } = r;
  if (offset < 8 || offset + 2 > tiff.length) return { entries: [], next: 0 };
  const n = r.u16(offset);
  const entries: Entry[] = [];
  for (let i = 0; i < n && i < 1000; i++) {
    const e = offset + 2 + i * 12;
    if (e + 12 > tiff.length) break;
    const type = r.u16(e + 2);
    const count = r.u32(e + 4);
    const size = (TYPE_SIZES[type] ?? 0) * count;
    const field = r.u32(e + 8);
    if (size === 0) continue;
    const at = size <= 4 ? e + 8 : field;
    // Oversized or out-of-bounds values are still listed (pointers need only `field`).
    entries.push({ tag: r.u16(e), type, count, at: size > MAX_VALUE_BYTES || at + size > tiff.length ? -1 : at, field });
  }
  const nextAt = offset + 2 + n * 12;
  return { entries, next: nextAt + 4 <= tiff.length ? r.u32(nextAt) : 0 };
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(2)));
}

/** Renders one entry as OSS/exiv2 prints it; undefined to leave the tag out. */
function render(r: Reader, e: Entry, name: string): string | undefined {
  if (name === 'ExifTag' || name === 'GPSTag' || name === 'InteroperabilityTag') return String(e.field);
  if (e.at < 0) return undefined;
  const { tiff } = r;
  if (e.type === 2) {
    const text = tiff.subarray(e.at, e.at + e.count).toString('latin1').replace(/\0[\s\S]*$/, '').trimEnd();
    if (name === 'GPSLatitudeRef' || name === 'GPSDestLatitudeRef') return text === 'N' ? 'North' : text === 'S' ? 'South' : text;
    if (name === 'GPSLongitudeRef' || name === 'GPSDestLongitudeRef') return text === 'E' ? 'East' : text === 'W' ? 'West' : text;
    return text;
  }
  if (name.startsWith('XP') && e.type === 1) {
    // Windows XP* tags: UCS-2LE text in a BYTE array.
    return tiff.subarray(e.at, e.at + e.count - (e.count % 2)).toString('utf16le').replace(/\0[\s\S]*$/, '');
  }
  if (e.type === 7) {
    const bytes = tiff.subarray(e.at, e.at + e.count);
    // Version-like fields ("0230", "0100") read as text; other blobs as exiv2's byte list.
    if (bytes.length <= 64 && /^[\x20-\x7e]+$/.test(bytes.toString('latin1'))) return bytes.toString('latin1');
    if (bytes.length > 64) return undefined;
    return Array.from(bytes).join(' ');
  }
  const values: string[] = [];
  const nums: number[] = [];
  for (let k = 0; k < e.count && k < 1024; k++) {
    switch (e.type) {
      case 1: case 6: values.push(String(e.type === 1 ? tiff[e.at + k] : tiff.readInt8(e.at + k))); break;
      case 3: values.push(String(r.u16(e.at + 2 * k))); break;
      case 8: values.push(String((r.u16(e.at + 2 * k) << 16) >> 16)); break;
      case 4: case 13: values.push(String(r.u32(e.at + 4 * k))); break;
      case 9: values.push(String(r.i32(e.at + 4 * k))); break;
      case 5: case 10: {
        const n = e.type === 5 ? r.u32(e.at + 8 * k) : r.i32(e.at + 8 * k);
        const d = e.type === 5 ? r.u32(e.at + 8 * k + 4) : r.i32(e.at + 8 * k + 4);
        values.push(`${n}/${d}`);
        nums.push(d === 0 ? 0 : n / d);
        break;
      }
      case 11: values.push(formatNumber(r.le ? tiff.readFloatLE(e.at + 4 * k) : tiff.readFloatBE(e.at + 4 * k))); break;
      case 12: values.push(formatNumber(r.le ? tiff.readDoubleLE(e.at + 8 * k) : tiff.readDoubleBE(e.at + 8 * k))); break;
      default: return undefined;
    }
  }
  if (/^GPS(Dest)?(Latitude|Longitude)$/.test(name) && nums.length === 3) return degrees(nums as [number, number, number]);
  return values.join(' ');
}

/**
 * GPS coordinate in the form of OSS's sample: `0deg ` for 0/1 0/1 0/1. Minutes and seconds are
 * appended exiv2-style (`41deg 24' 12.2"`) only when not zero (UNCONFIRMED beyond the sample).
 */
function degrees([d, m, s]: [number, number, number]): string {
  const deg = `${formatNumber(d)}deg `;
  if (m === 0 && s === 0) return deg;
  return `${deg}${formatNumber(m)}' ${formatNumber(s)}"`;
}

/**
 * Reads the reported EXIF fields from a TIFF structure (`II*\0…` / `MM\0*…`, optionally behind
 * the JPEG `Exif\0\0` prefix). `ownFile` = the structure is a TIFF image itself: its IFD1 is the
 * second page (not a thumbnail) and its strip/layout tags are not metadata.
 */
export function exifFields(exif: Buffer, ownFile = false): Record<string, string> {
  const start = exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? 6 : 0;
  const tiff = exif.subarray(start);
  if (tiff.length < 8) return {};
  const order = tiff.subarray(0, 2).toString('latin1');
  if (order !== 'II' && order !== 'MM') return {};
  const r = reader(tiff, order === 'II');
  if (r.u16(2) !== 42) return {};
  const out: Fields = {};
  const collect = (offset: number, names: Record<number, string>, skip?: Set<string>): Entry[] => {
    const { entries } = readIfd(r, offset);
    for (const e of entries) {
      const name = names[e.tag];
      if (!name || skip?.has(name)) continue;
      const value = render(r, e, name);
      if (value !== undefined) out[name] = value;
    }
    return entries;
  };
  const ifd0Offset = r.u32(4);
  const ifd0 = collect(ifd0Offset, IFD0_TAGS, ownFile ? TIFF_STRUCTURE_TAGS : undefined);
  if (!ownFile) {
    // Thumbnail IFD: exiv2 reports its Compression/JPEGInterchangeFormat* under the same names;
    // IFD0's own Compression (rare in JPEG EXIF) is not overwritten.
    const next = readIfd(r, ifd0Offset).next;
    if (next > 0 && next !== ifd0Offset) {
      const ifd0Compression = out.Compression;
      collect(next, IFD1_TAGS);
      if (ifd0Compression !== undefined) out.Compression = ifd0Compression;
    }
  }
  const exifPtr = ifd0.find((e) => e.tag === 0x8769);
  if (exifPtr) collect(exifPtr.field, EXIF_TAGS);
  const gpsPtr = ifd0.find((e) => e.tag === 0x8825);
  if (gpsPtr) collect(gpsPtr.field, GPS_TAGS);
  return out;
}

/** JFIF APP0 density: units 0 (aspect only) → "1", 1 (dpi) → "2", 2 (dpcm) → "3" (TIFF units). */
function jfifResolution(buf: Buffer): Fields {
  // APP0 is the first segment after SOI when present.
  if (buf.length < 20 || buf[2] !== 0xff || buf[3] !== 0xe0 || buf.toString('latin1', 6, 11) !== 'JFIF\0') return {};
  const units = buf[13] as number;
  const x = buf.readUInt16BE(14);
  const y = buf.readUInt16BE(16);
  if (units > 2 || x === 0 || y === 0) return {};
  return { ResolutionUnit: String(units + 1), XResolution: `${x}/1`, YResolution: `${y}/1` };
}

/**
 * Builds the OSS info JSON (a compact string, keys sorted) for a probed source. Reads headers and
 * metadata only; never decodes pixels.
 */
export async function ossInfo(buf: Buffer, info: SourceInfo): Promise<string> {
  return JSON.stringify(sortedInfo(await infoFields(buf, info)));
}

/** The info fields as a plain name → string map (unsorted; see {@link ossInfo}). */
export async function infoFields(buf: Buffer, info: SourceInfo): Promise<Record<string, string>> {
  let fields: Fields = {};
  if (info.format === 'jpeg') fields = jfifResolution(buf);
  if (info.format === 'tiff') {
    fields = exifFields(buf, true);
  } else if (info.format === 'jpeg' || info.format === 'webp' || info.format === 'heic' || info.format === 'avif') {
    try {
      const meta = await sharp(info.format === 'avif' ? sharpReadableAvif(buf) : buf, { limitInputPixels: false }).metadata();
      if (meta.exif) fields = { ...fields, ...exifFields(meta.exif) };
    } catch {
      // Unreadable metadata: report the basic fields only.
    }
  }
  return {
    ...fields,
    FileSize: String(info.bytes),
    Format: ossFormatName(info.format),
    FrameCount: String(info.frames),
    ImageHeight: String(info.height),
    ImageWidth: String(info.width),
  };
}

function sortedInfo(fields: Fields): Record<string, { value: string }> {
  const sorted = Object.keys(fields).sort();
  return Object.fromEntries(sorted.map((k) => [k, { value: fields[k] as string }]));
}
