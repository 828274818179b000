/**
 * Hosted images (Cloudflare Images storage, spec cloudflare-transform.md §16): uploads, variants,
 * account configuration, signing keys, signed delivery URLs.
 *
 * Storage: every image is an object `images/<id>` of one private bucket of the object store (the
 * OSS API cannot serve it anonymously); its record (filename, metadata, requireSignedURLs, creator,
 * upload time) lives in the object's user metadata. Variants, the account configuration, the
 * signing keys and pending direct uploads are one JSON document of the MetaStore (shared by every
 * node in scale-out mode), changed by compare-and-set with retry so that concurrent writers on
 * several nodes never lose an update. Before, they were the object `account/state.json` of the
 * same bucket; it is imported on first use and kept as a backup.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { AppError } from '../core/errors.js';
import { CF_FITS } from '../core/ir.js';
import type { BodyMemory, SourceFetcher } from '../ports/source-fetcher.js';
import type { MetaStore, ObjectRecord } from '../ports/meta-store.js';
import type { ObjectService } from './oss-objects.js';

export interface VariantOptions {
  readonly fit: 'scale-down' | 'contain' | 'cover' | 'crop' | 'pad';
  readonly width?: number;
  readonly height?: number;
  readonly metadata?: 'keep' | 'copyright' | 'none';
}

export interface Variant {
  readonly id: string;
  readonly options: VariantOptions;
  readonly neverRequireSignedURLs: boolean;
  /** Browser TTL of this variant in seconds (overrides the account's). */
  readonly browser_ttl?: number;
}

export interface AccountConfig {
  readonly flexible_variants: boolean;
  readonly browser_ttl: number;
}

export interface SigningKey {
  readonly name: string;
  readonly value: string;
}

/** A one-time upload URL handed out by direct_upload, waiting for its file. */
export interface DraftUpload {
  readonly id: string;
  readonly expires: number;
  readonly requireSignedURLs: boolean;
  readonly metadata?: string;
  /** Whether `id` was chosen by the caller (custom ID rules apply). */
  readonly custom: boolean;
}

interface AccountState {
  variants: Record<string, Variant>;
  config: AccountConfig;
  keys: SigningKey[];
  drafts?: Record<string, DraftUpload>;
}

/** What the API shows of an image. */
export interface HostedImage {
  readonly id: string;
  readonly filename: string;
  readonly meta: Record<string, unknown>;
  readonly uploaded: string;
  readonly requireSignedURLs: boolean;
  readonly creator?: string;
  readonly variants: string[];
}

export interface HostedImagesDeps {
  readonly objects: Pick<ObjectService, 'findBucket' | 'createBucket' | 'putObject' | 'findObject' | 'loadObject' | 'deleteObject' | 'listObjects'>;
  /** Holds the account state (variants, configuration, signing keys, drafts), shared by every node. */
  readonly documents: Pick<MetaStore, 'getDocument' | 'putDocumentIf'>;
  readonly fetcher?: SourceFetcher | undefined;
  /** Account hash of delivery URLs. */
  readonly accountHash: string;
  /** Absolute or root-relative base of delivery URLs (default `/cdn-cgi/imagedelivery`). */
  readonly deliveryBase?: string;
  /** Bucket that holds the images (created private on first use). */
  readonly bucket?: string;
  readonly now?: () => number;
}

export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
export const MAX_METADATA_BYTES = 1024;
/** Custom IDs: Cloudflare allows 1,024 characters; the `images/` key prefix leaves 1,016 bytes. */
export const MAX_CUSTOM_ID_BYTES = 1016;
export const MAX_VARIANTS = 100;
const DEFAULT_BROWSER_TTL = 172800;
/** MetaStore document of the account state (variants, configuration, signing keys, drafts). */
const STATE_DOC = 'cloudflare-images/account';
const MAX_STATE_RETRIES = 100;

const DEFAULT_STATE = (): AccountState => ({
  variants: { public: { id: 'public', options: { fit: 'scale-down', width: 1366, height: 768, metadata: 'none' }, neverRequireSignedURLs: false } },
  config: { flexible_variants: false, browser_ttl: DEFAULT_BROWSER_TTL },
  keys: [{ name: 'default', value: randomBytes(32).toString('hex') }],
});

function bad(message: string): AppError {
  return new AppError('INVALID_ARGUMENT', message);
}

function notFound(): AppError {
  return new AppError('NO_SUCH_KEY', 'Image not found');
}

/** Validates variant options (spec §16.1: scale-down, contain, cover, crop, pad). */
export function checkVariantOptions(o: unknown): VariantOptions {
  if (o === null || typeof o !== 'object') throw bad('options must be an object');
  const v = o as Record<string, unknown>;
  const fit = v['fit'] ?? 'scale-down';
  if (typeof fit !== 'string' || !['scale-down', 'contain', 'cover', 'crop', 'pad'].includes(fit) || !(CF_FITS as readonly string[]).includes(fit)) {
    throw bad('options.fit must be one of scale-down, contain, cover, crop, pad');
  }
  const dim = (k: string): number | undefined => {
    const x = v[k];
    if (x === undefined) return undefined;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > 12000) throw bad(`options.${k} must be an integer between 1 and 12000`);
    return x;
  };
  const metadata = v['metadata'] ?? 'none';
  if (metadata !== 'keep' && metadata !== 'copyright' && metadata !== 'none') throw bad('options.metadata must be keep, copyright or none');
  const width = dim('width');
  const height = dim('height');
  return { fit: fit as VariantOptions['fit'], ...(width === undefined ? {} : { width }), ...(height === undefined ? {} : { height }), metadata };
}

/** The Cloudflare option string of a variant (what the delivery route transforms with). */
export function variantToOptions(v: Variant): string {
  const o = v.options;
  return [`fit=${o.fit}`, o.width === undefined ? '' : `width=${o.width}`, o.height === undefined ? '' : `height=${o.height}`, `metadata=${o.metadata ?? 'none'}`]
    .filter((s) => s !== '')
    .join(',');
}

/** HMAC-SHA256 signature of a delivery URL (spec §16.3): lowercase hex of `pathname?query`. */
export function signDeliveryPath(pathAndQuery: string, key: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(pathAndQuery).digest('hex');
}

export function createHostedImages(deps: HostedImagesDeps) {
  const bucket = deps.bucket ?? 'halftone-images';
  const now = deps.now ?? (() => Date.now());
  const deliveryBase = (deps.deliveryBase ?? '/cdn-cgi/imagedelivery').replace(/\/+$/, '');
  const LEGACY_STATE_KEY = 'account/state.json';
  let chain: Promise<unknown> = Promise.resolve();

  async function ensureBucket(): Promise<void> {
    if (await deps.objects.findBucket(bucket) === undefined) {
      try {
        await deps.objects.createBucket(bucket, 'private');
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'BUCKET_ALREADY_EXISTS')) throw err;
      }
    }
  }

  /**
   * The account state before it moved to the MetaStore: the JSON object `account/state.json` of
   * the images bucket. Imported once, when the MetaStore has no document yet; the object is then
   * kept, unread and unchanged, as a backup (docs/cloudflare-images.md).
   */
  async function legacyState(): Promise<AccountState | undefined> {
    await ensureBucket();
    if (await deps.objects.findObject(bucket, LEGACY_STATE_KEY) === undefined) return undefined;
    const { data } = await deps.objects.loadObject(bucket, LEGACY_STATE_KEY);
    return JSON.parse(data.toString('utf8')) as AccountState;
  }

  /** The stored state and its version; created (imported or default) when there is none yet. */
  async function readState(): Promise<{ s: AccountState; version: number }> {
    for (;;) {
      const doc = await deps.documents.getDocument(STATE_DOC);
      if (doc !== undefined) return { s: JSON.parse(doc.value) as AccountState, version: doc.version };
      // First use: exactly one node's initial state (and so one default signing key) wins.
      const initial = (await legacyState()) ?? DEFAULT_STATE();
      if (await deps.documents.putDocumentIf(STATE_DOC, JSON.stringify(initial), 0)) return { s: initial, version: 1 };
    }
  }

  /**
   * Read-modify-write of the account state: a compare-and-set on the MetaStore document, retried
   * when another node (or request) changed it in between, so no update is lost; serialised within
   * the process to avoid needless retries. `fn` may run more than once and must only change `s`.
   */
  function updateState<T>(fn: (s: AccountState) => T): Promise<T> {
    const run = async (): Promise<T> => {
      for (let attempt = 0; ; attempt++) {
        const { s, version } = await readState();
        const out = fn(s);
        if (await deps.documents.putDocumentIf(STATE_DOC, JSON.stringify(s), version)) return out;
        if (attempt >= MAX_STATE_RETRIES) throw new AppError('INTERNAL', 'The account state changed too often concurrently; try again');
        // Another writer won: back off a little (jittered) and re-read.
        await new Promise((r) => setTimeout(r, Math.random() * 5 * Math.min(attempt + 1, 10)));
      }
    };
    const next = chain.then(run, run);
    chain = next.catch(() => undefined);
    return next;
  }

  async function state(): Promise<AccountState> {
    // Writes of this process first: a read right after a write sees it.
    await chain.catch(() => undefined);
    return (await readState()).s;
  }

  function keyOf(id: string): string {
    return `images/${id}`;
  }

  function toImage(rec: ObjectRecord, variants: readonly string[]): HostedImage {
    const id = rec.key.slice('images/'.length);
    const m = rec.meta;
    let meta: Record<string, unknown> = {};
    try {
      meta = JSON.parse(m['metadata'] ?? '{}') as Record<string, unknown>;
    } catch {
      meta = {};
    }
    return {
      id,
      filename: m['filename'] ?? id,
      meta,
      uploaded: m['uploaded'] ?? new Date(rec.lastModified).toISOString(),
      requireSignedURLs: m['requiresignedurls'] === 'true',
      ...(m['creator'] === undefined ? {} : { creator: m['creator'] }),
      variants: variants.map((v) => `${deliveryBase}/${deps.accountHash}/${id}/${v}`),
    };
  }

  /** An image's stored original (record and address), without its bytes; NO_SUCH_KEY when absent. */
  async function findOriginal(id: string): Promise<{ bucket: string; key: string; rec: ObjectRecord; image: HostedImage }> {
    await ensureBucket();
    const key = keyOf(id);
    const rec = await deps.objects.findObject(bucket, key);
    if (rec === undefined) throw notFound();
    return { bucket, key, rec, image: toImage(rec, []) };
  }

  function checkId(id: string): void {
    if (id === '' || Buffer.byteLength(id, 'utf8') > MAX_CUSTOM_ID_BYTES) throw bad(`Custom ID must be 1–${MAX_CUSTOM_ID_BYTES} bytes`);
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw bad('Custom ID must not be a UUID');
    if (id.startsWith('/') || id.split('/').some((s) => s === '' || s === '.' || s === '..')) throw bad('Custom ID has an empty, "." or ".." path segment');
  }

  return {
    bucket,

    async upload(input: {
      file?: { data: Buffer; filename: string };
      url?: string;
      id?: string;
      metadata?: string;
      requireSignedURLs?: string;
      creator?: string;
      /** Generated id of a direct upload (not a custom ID). */
      draftId?: string;
      /** Memory accounting of an upload by URL's download (admission control's hold). */
      memory?: BodyMemory;
      /** Asked for when an upload by URL starts: aborts the download when the client leaves. */
      signal?: () => AbortSignal;
    }): Promise<HostedImage> {
      if ((input.file === undefined) === (input.url === undefined)) throw bad('Provide exactly one of file or url');
      let meta: Record<string, unknown> = {};
      if (input.metadata !== undefined) {
        if (Buffer.byteLength(input.metadata, 'utf8') > MAX_METADATA_BYTES) throw bad(`metadata must be at most ${MAX_METADATA_BYTES} bytes`);
        try {
          meta = JSON.parse(input.metadata) as Record<string, unknown>;
        } catch {
          throw bad('metadata must be JSON');
        }
        if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw bad('metadata must be a JSON object');
      }
      const requireSigned = input.requireSignedURLs === 'true';
      if (input.id !== undefined) {
        checkId(input.id);
        // Spec §16.3: custom-ID images cannot be private.
        if (requireSigned) throw bad('Images with a custom ID cannot require signed URLs');
      }
      let data: Buffer;
      let filename: string;
      if (input.file !== undefined) {
        data = input.file.data;
        filename = input.file.filename;
      } else {
        if (deps.fetcher === undefined) throw new AppError('FETCH_ORIGIN_NOT_ALLOWED', 'Upload by URL is not enabled on this server.');
        const fetched = await deps.fetcher.fetchSource(input.url as string, {
          maxBytes: MAX_IMAGE_BYTES, timeoutMs: 30000, maxRedirects: 5,
          ...(input.memory === undefined ? {} : { memory: input.memory }),
          ...(input.signal === undefined ? {} : { signal: input.signal() }),
        });
        data = fetched.body;
        filename = decodeURIComponent(new URL(fetched.finalUrl).pathname.split('/').pop() ?? '') || 'image';
      }
      if (data.length > MAX_IMAGE_BYTES) throw new AppError('ENTITY_TOO_LARGE', 'Image is larger than 10 MB');
      // Loaded here: the codecs load sharp, which the server only needs once images are processed.
      const { probe } = await import('../core/codecs/probe.js');
      const info = await probe(data); // refuses non-images (UNSUPPORTED_FORMAT)
      if (info.width * info.height * Math.max(1, info.frames) > 100_000_000 || Math.max(info.width, info.height) > 12000) {
        throw new AppError('IMAGE_TOO_LARGE', 'Image exceeds 12,000 px per side or 100 megapixels');
      }
      await ensureBucket();
      const id = input.draftId ?? input.id ?? randomUUID();
      if (await deps.objects.findObject(bucket, keyOf(id)) !== undefined) throw new AppError('BUCKET_ALREADY_EXISTS', 'An image with this ID already exists');
      const rec = await deps.objects.putObject({
        bucket, key: keyOf(id), body: data, contentType: `image/${info.format}`, headers: {},
        meta: {
          filename,
          metadata: JSON.stringify(meta),
          uploaded: new Date(now()).toISOString(),
          requiresignedurls: String(requireSigned),
          ...(input.creator === undefined ? {} : { creator: input.creator }),
        },
        acl: 'default',
      });
      return toImage(rec, Object.keys((await state()).variants));
    },

    async get(id: string): Promise<HostedImage> {
      await ensureBucket();
      const rec = await deps.objects.findObject(bucket, keyOf(id));
      if (rec === undefined) throw notFound();
      return toImage(rec, Object.keys((await state()).variants));
    },

    /** Cursor listing in ID order (v2); `after` is the last ID of the previous page. */
    async list(perPage: number, after: string): Promise<{ images: HostedImage[]; next: string | undefined }> {
      await ensureBucket();
      const out = await deps.objects.listObjects(bucket, { prefix: 'images/', delimiter: '', after: after === '' ? '' : keyOf(after), maxKeys: perPage });
      const variants = Object.keys((await state()).variants);
      const images = out.objects.map((r) => toImage(r, variants));
      return { images, next: out.truncated ? images[images.length - 1]?.id : undefined };
    },

    async update(id: string, patch: { requireSignedURLs?: unknown; metadata?: unknown; creator?: unknown }): Promise<HostedImage> {
      await ensureBucket();
      const rec = await deps.objects.findObject(bucket, keyOf(id));
      if (rec === undefined) throw notFound();
      const meta = { ...rec.meta };
      if (patch.requireSignedURLs !== undefined) {
        if (typeof patch.requireSignedURLs !== 'boolean') throw bad('requireSignedURLs must be a boolean');
        meta['requiresignedurls'] = String(patch.requireSignedURLs);
      }
      if (patch.metadata !== undefined) {
        const s = JSON.stringify(patch.metadata);
        if (patch.metadata === null || typeof patch.metadata !== 'object' || Array.isArray(patch.metadata)) throw bad('metadata must be a JSON object');
        if (Buffer.byteLength(s, 'utf8') > MAX_METADATA_BYTES) throw bad(`metadata must be at most ${MAX_METADATA_BYTES} bytes`);
        meta['metadata'] = s;
      }
      if (patch.creator !== undefined) {
        if (typeof patch.creator !== 'string') throw bad('creator must be a string');
        meta['creator'] = patch.creator;
      }
      const { data } = await deps.objects.loadObject(bucket, keyOf(id));
      const next = await deps.objects.putObject({ bucket, key: keyOf(id), body: data, contentType: rec.contentType, headers: rec.headers, meta, acl: 'default' });
      return toImage(next, Object.keys((await state()).variants));
    },

    async remove(id: string): Promise<void> {
      await ensureBucket();
      if (await deps.objects.findObject(bucket, keyOf(id)) === undefined) throw notFound();
      await deps.objects.deleteObject(bucket, keyOf(id));
    },

    /**
     * The original's stored object, without its bytes (delivery: the transformation reads them only
     * when the variant is not in the result cache).
     */
    find: findOriginal,

    /** The original bytes and record (blob endpoint). */
    async load(id: string): Promise<{ data: Buffer; image: HostedImage; etag: string; contentType: string }> {
      const { key } = await findOriginal(id);
      const { rec, data } = await deps.objects.loadObject(bucket, key);
      return { data, image: toImage(rec, []), etag: rec.etag, contentType: rec.contentType };
    },

    async count(): Promise<number> {
      await ensureBucket();
      let n = 0;
      let after = '';
      for (;;) {
        const page = await deps.objects.listObjects(bucket, { prefix: 'images/', delimiter: '', after, maxKeys: 1000 });
        n += page.objects.length;
        if (!page.truncated || page.next === undefined) return n;
        after = page.next;
      }
    },

    /**
     * Direct creator upload (spec §16.2): reserves an id and returns it; the file is sent later,
     * without credentials, to the one-time upload URL. `expiry` defaults to 30 min (2 min – 6 h).
     */
    async createDraft(input: { id?: string; metadata?: string; requireSignedURLs?: string; expiry?: string }): Promise<DraftUpload> {
      const t = now();
      let expires = t + 30 * 60 * 1000;
      if (input.expiry !== undefined) {
        expires = Date.parse(input.expiry);
        if (!Number.isFinite(expires) || expires < t + 2 * 60 * 1000 - 1000 || expires > t + 6 * 3600 * 1000 + 1000) {
          throw bad('expiry must be an ISO-8601 time between 2 minutes and 6 hours from now');
        }
      }
      const requireSigned = input.requireSignedURLs === 'true';
      if (input.id !== undefined) {
        checkId(input.id);
        if (requireSigned) throw bad('Images with a custom ID cannot require signed URLs');
      }
      if (input.metadata !== undefined && Buffer.byteLength(input.metadata, 'utf8') > MAX_METADATA_BYTES) throw bad(`metadata must be at most ${MAX_METADATA_BYTES} bytes`);
      const id = input.id ?? randomUUID();
      await ensureBucket();
      if (await deps.objects.findObject(bucket, keyOf(id)) !== undefined) throw new AppError('BUCKET_ALREADY_EXISTS', 'An image with this ID already exists');
      const draft: DraftUpload = { id, expires, requireSignedURLs: requireSigned, custom: input.id !== undefined, ...(input.metadata === undefined ? {} : { metadata: input.metadata }) };
      await updateState((s) => {
        // Forget expired drafts while we are here.
        const live = Object.entries(s.drafts ?? {}).filter(([, d]) => d.expires > t);
        s.drafts = Object.fromEntries([...live, [id, draft]]);
      });
      return draft;
    },

    /** Completes a direct upload; the draft is used once. */
    async completeDraft(id: string, file: { data: Buffer; filename: string }): Promise<HostedImage> {
      const draft = await updateState((s) => {
        const d = s.drafts?.[id];
        if (d === undefined || d.expires <= now()) return undefined;
        delete s.drafts![id];
        return d;
      });
      if (draft === undefined) throw new AppError('ACCESS_DENIED', 'The upload URL is unknown, used or expired');
      return this.upload({
        file,
        ...(draft.custom ? { id } : { draftId: id }),
        ...(draft.metadata === undefined ? {} : { metadata: draft.metadata }),
        requireSignedURLs: String(draft.requireSignedURLs),
      });
    },

    // ------------------------------------------------------------------ variants
    async variants(): Promise<Record<string, Variant>> {
      return (await state()).variants;
    },
    async variant(name: string): Promise<Variant> {
      const v = (await state()).variants[name];
      if (v === undefined) throw new AppError('NO_SUCH_KEY', 'Variant not found');
      return v;
    },
    async putVariant(body: unknown, mode: 'create' | 'update', name?: string): Promise<Variant> {
      const b = (body ?? {}) as Record<string, unknown>;
      const id = mode === 'create' ? b['id'] : name;
      if (typeof id !== 'string' || !/^[a-zA-Z0-9]{1,99}$/.test(id)) throw bad('Variant id must be 1–99 letters or digits');
      return updateState((s) => {
        const cur = s.variants[id];
        if (mode === 'create' && cur !== undefined) throw bad(`Variant ${id} already exists`);
        if (mode === 'update' && cur === undefined) throw new AppError('NO_SUCH_KEY', 'Variant not found');
        if (mode === 'create' && Object.keys(s.variants).length >= MAX_VARIANTS) throw bad(`At most ${MAX_VARIANTS} variants`);
        const options = b['options'] === undefined && cur !== undefined ? cur.options : checkVariantOptions(b['options']);
        const never = b['neverRequireSignedURLs'] ?? cur?.neverRequireSignedURLs ?? false;
        if (typeof never !== 'boolean') throw bad('neverRequireSignedURLs must be a boolean');
        const ttlRaw = (b['options'] as Record<string, unknown> | undefined)?.['browser_ttl'] ?? b['browser_ttl'] ?? cur?.browser_ttl;
        if (ttlRaw !== undefined && (typeof ttlRaw !== 'number' || !Number.isInteger(ttlRaw) || ttlRaw < 3600 || ttlRaw > 31536000)) {
          throw bad('browser_ttl must be between 3600 and 31536000 seconds');
        }
        const v: Variant = { id, options, neverRequireSignedURLs: never, ...(ttlRaw === undefined ? {} : { browser_ttl: ttlRaw as number }) };
        s.variants[id] = v;
        return v;
      });
    },
    async deleteVariant(name: string): Promise<void> {
      if (name === 'public') throw bad('The public variant cannot be deleted');
      await updateState((s) => {
        if (s.variants[name] === undefined) throw new AppError('NO_SUCH_KEY', 'Variant not found');
        delete s.variants[name];
      });
    },

    // ------------------------------------------------------------------ config and keys
    async config(): Promise<AccountConfig> {
      return (await state()).config;
    },
    async patchConfig(body: unknown): Promise<AccountConfig> {
      const b = (body ?? {}) as Record<string, unknown>;
      return updateState((s) => {
        const flex = b['flexible_variants'] ?? s.config.flexible_variants;
        const ttl = b['browser_ttl'] ?? s.config.browser_ttl;
        if (typeof flex !== 'boolean') throw bad('flexible_variants must be a boolean');
        if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 3600 || ttl > 31536000) throw bad('browser_ttl must be between 3600 and 31536000 seconds');
        s.config = { flexible_variants: flex, browser_ttl: ttl };
        return s.config;
      });
    },
    async keys(): Promise<SigningKey[]> {
      return (await state()).keys;
    },
    async createKey(name: string): Promise<SigningKey[]> {
      if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name)) throw bad('Key name must be 1–64 letters, digits, _ or -');
      return updateState((s) => {
        s.keys = [...s.keys.filter((k) => k.name !== name), { name, value: randomBytes(32).toString('hex') }];
        return s.keys;
      });
    },
    async deleteKey(name: string): Promise<SigningKey[]> {
      return updateState((s) => {
        if (!s.keys.some((k) => k.name === name)) throw new AppError('NO_SUCH_KEY', 'Signing key not found');
        s.keys = s.keys.filter((k) => k.name !== name);
        // There is always at least one key (spec: "the default key").
        if (s.keys.length === 0) s.keys.push({ name: 'default', value: randomBytes(32).toString('hex') });
        return s.keys;
      });
    },

    /**
     * Checks a delivery request's signature (spec §16.3): `sig` = HMAC-SHA256 over
     * `pathname?<query without sig, in received order>` with any signing key; `exp` must be in the
     * future when present (tokens without `exp` never expire: UNCONFIRMED, our choice).
     */
    async verifySignature(pathname: string, rawQuery: string): Promise<boolean> {
      const parts = rawQuery === '' ? [] : rawQuery.split('&');
      const sigPart = parts.find((p) => p.startsWith('sig='));
      if (sigPart === undefined) return false;
      const sig = sigPart.slice(4).toLowerCase();
      const rest = parts.filter((p) => !p.startsWith('sig='));
      const exp = rest.find((p) => p.startsWith('exp='));
      if (exp !== undefined) {
        const t = Number(exp.slice(4));
        if (!Number.isFinite(t) || t * 1000 <= now()) return false;
      }
      const message = rest.length > 0 ? `${pathname}?${rest.join('&')}` : pathname;
      if (!/^[0-9a-f]{64}$/.test(sig)) return false;
      const got = Buffer.from(sig, 'hex');
      for (const k of (await state()).keys) {
        const want = Buffer.from(signDeliveryPath(message, k.value), 'hex');
        if (timingSafeEqual(got, want)) return true;
      }
      return false;
    },

    /** Cache-Control for a delivered variant (spec §16.4): variant TTL > account TTL > 2 days. */
    async cacheControl(variant: Variant | undefined): Promise<string> {
      const ttl = variant?.browser_ttl ?? (await state()).config.browser_ttl;
      return `public, max-age=${ttl}, stale-while-revalidate=7200`;
    },
  };
}

export type HostedImages = ReturnType<typeof createHostedImages>;
