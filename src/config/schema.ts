/**
 * The one configuration schema of Halftone: every setting with its environment variable, type,
 * default and doc line. `load()` reads them once and reports every problem at once; modules
 * receive their slice, never `process.env`.
 */

type Kind = 'port' | 'string' | 'list' | 'map' | 'bytes' | 'count' | 'natural';

interface Setting<K extends Kind> {
  readonly env: string;
  readonly kind: K;
  /** Default as an environment string; undefined = unset. */
  readonly default: string | undefined;
  readonly doc: string;
}

/** Every setting; keep alphabetical by env name within a group. */
export const CONFIG_SCHEMA = {
  port: { env: 'PORT', kind: 'port', default: '8080', doc: 'TCP port to listen on.' },
  host: { env: 'HALFTONE_HOST', kind: 'string', default: '0.0.0.0', doc: 'Address to bind (use 127.0.0.1 for loopback only).' },
  dataDir: { env: 'HALFTONE_DATA_DIR', kind: 'string', default: './data', doc: 'Directory for objects (blobs/), metadata (meta.sqlite) and generated credentials.' },
  accessKeyId: { env: 'HALFTONE_ACCESS_KEY_ID', kind: 'string', default: undefined, doc: 'Access key id for signed requests. If unset with the secret, a pair is generated on first start, saved in the data dir and printed once.' },
  accessKeySecret: { env: 'HALFTONE_ACCESS_KEY_SECRET', kind: 'string', default: undefined, doc: 'Access key secret (set together with HALFTONE_ACCESS_KEY_ID).' },
  serviceDomains: {
    env: 'HALFTONE_OSS_SERVICE_DOMAINS', kind: 'list',
    default: 'oss-*.aliyuncs.com,*.aliyuncs.com,localhost,oss.local',
    doc: 'Comma-separated host suffixes for virtual-host addressing (`<bucket>.<domain>`); `*` matches one label part.',
  },
  cname: { env: 'HALFTONE_OSS_CNAME', kind: 'map', default: '', doc: 'Custom-domain map `host=bucket,host2=bucket2`: requests to that host address that bucket and the path is the key.' },
  defaultBucket: { env: 'HALFTONE_OSS_DEFAULT_BUCKET', kind: 'string', default: '', doc: 'Bucket used for IP-endpoint presigned V4 URLs that carry no bucket (`/<key>` on a non-service host). Empty = path-style.' },
  styleDelimiters: { env: 'HALFTONE_OSS_STYLE_DELIMITERS', kind: 'string', default: '', doc: 'Enabled style delimiters, any of `-_/!` (e.g. `!`): `GET /key!style` applies style `style`.' },
  protectedSources: { env: 'HALFTONE_OSS_SOURCE_PROTECTION', kind: 'list', default: '', doc: 'Source-image protection: key suffixes (e.g. `.jpg,.png`, or `*` for all) that anonymous users may only fetch through a style.' },
  maxObjectBytes: { env: 'HALFTONE_MAX_OBJECT_BYTES', kind: 'bytes', default: String(5 * 1024 ** 3), doc: 'Largest single PUT/part/append body in bytes (OSS: 5 GiB).' },
  maxProcessBytes: { env: 'HALFTONE_MAX_PROCESS_BYTES', kind: 'bytes', default: String(50 * 1024 ** 2), doc: 'Largest object that image processing will load into memory.' },
  allowedOrigins: {
    env: 'HALFTONE_ALLOWED_ORIGINS', kind: 'list', default: '',
    doc: 'Origins remote sources may be fetched from: `[scheme://]host[:port][/path]`, `*.example.com` covers the apex and subdomains. Listed origins may be private addresses; see HALFTONE_ANY_PUBLIC_ORIGIN.',
  },
  anyPublicOrigin: { env: 'HALFTONE_ANY_PUBLIC_ORIGIN', kind: 'string', default: 'true', doc: '`true` (default, the run contract): any origin resolving only to public addresses may be fetched, and HALFTONE_ALLOWED_ORIGINS adds origins that may be private; `false`: only HALFTONE_ALLOWED_ORIGINS (Cloudflare strict mode).' },
  cfPrefix: { env: 'HALFTONE_CF_PREFIX', kind: 'string', default: '/cdn-cgi/image', doc: 'Mount prefix of Cloudflare-style URL transformations (`<prefix>/<options>/<source>`).' },
  cfDefaultFit: { env: 'HALFTONE_CF_DEFAULT_FIT', kind: 'string', default: 'scale-down', doc: 'Cloudflare `fit` when none is given: `scale-down` (newest docs) or `contain` (older docs).' },
  cfStrict: { env: 'HALFTONE_CF_STRICT', kind: 'string', default: 'false', doc: '`true`: invalid or unknown Cloudflare options answer 400 / 9401; `false`: they are ignored with a `Warning: cf-images 299` header.' },
  cfAccountHash: { env: 'HALFTONE_CF_ACCOUNT_HASH', kind: 'string', default: 'halftone', doc: 'Account hash in hosted-image delivery URLs (`/cdn-cgi/imagedelivery/<hash>/<id>/<variant>`).' },
  cfAccountId: { env: 'HALFTONE_CF_ACCOUNT_ID', kind: 'string', default: 'halftone', doc: 'Account id of the Images REST API (`/client/v4/accounts/<id>/images/...`).' },
  apiKeys: { env: 'HALFTONE_API_KEYS', kind: 'string', default: '', doc: 'API keys (comma-separated): Bearer tokens of the Images REST API, `X-API-KEY` values of the compression task API and `api_key` of the Abstract-style API (`/v1/url/`, `/v1/upload/`); empty = those APIs answer 401.' },
  abstractRateLimit: { env: 'HALFTONE_ABSTRACT_RATE_LIMIT', kind: 'count', default: '2', doc: 'Abstract-style API: requests per second per API key; more answer 429 with Retry-After.' },
  jobConcurrency: { env: 'HALFTONE_JOB_CONCURRENCY', kind: 'count', default: '2', doc: 'Most background jobs (compression tasks, video animations) run at once by this process.' },
  publicUrl: { env: 'HALFTONE_PUBLIC_URL', kind: 'string', default: '', doc: 'Public origin for result URLs (e.g. `https://img.example.com`); empty = taken from the request (Host, X-Forwarded-Proto).' },
  maxJobBacklog: { env: 'HALFTONE_MAX_JOB_BACKLOG', kind: 'natural', default: '1000', doc: 'Background jobs of one kind (compression tasks, video animations) queued or running at most; beyond it new ones are refused with 503 and Retry-After (PicWish: `{"status":503}` envelope; OSS: ServiceUnavailable). 0 = no cap.' },
  taskFetchTimeoutMs: { env: 'HALFTONE_TASK_FETCH_TIMEOUT_MS', kind: 'count', default: '10000', doc: 'Compression tasks: time budget for downloading `image_url` (failure = state -3).' },
  taskPngKbyte: { env: 'HALFTONE_TASK_PNG_KBYTE', kind: 'string', default: 'allow', doc: 'Compression tasks: `allow` (default) = `kbyte` works for PNG output (palette search); `reject` = 400 `kbyte is not supported for png output`, as the reference.' },
  taskRateLimit: { env: 'HALFTONE_TASK_RATE_LIMIT', kind: 'count', default: '2', doc: 'Compression tasks: requests per second per API key (create and query count alike); more answer 429 with Retry-After.' },
  taskRetentionMs: { env: 'HALFTONE_TASK_RETENTION_MS', kind: 'count', default: '3600000', doc: 'Compression tasks: how long a task and its result URL live after creation (then 404).' },
  taskSyncWaitMs: { env: 'HALFTONE_TASK_SYNC_WAIT_MS', kind: 'count', default: '30000', doc: 'Compression tasks: how long `sync=1` waits before answering the current, unfinished state.' },
  taskTimeoutMs: { env: 'HALFTONE_TASK_TIMEOUT_MS', kind: 'count', default: '180000', doc: 'Compression tasks: processing cap of one task (then state -8).' },
  // Performance: result cache, admission control, libvips threads (docs/operations-perf.md).
  cacheMemoryBytes: { env: 'HALFTONE_CACHE_MEMORY_BYTES', kind: 'natural', default: String(256 * 1024 ** 2), doc: 'Memory tier of the processed-variant cache in bytes (LRU); 0 = off.' },
  cacheDiskBytes: { env: 'HALFTONE_CACHE_DISK_BYTES', kind: 'natural', default: String(2 * 1024 ** 3), doc: 'Disk tier of the processed-variant cache in bytes, under `<data dir>/cache` (LRU, survives restarts); 0 = off.' },
  hotCacheBytes: { env: 'HALFTONE_HOT_CACHE_BYTES', kind: 'natural', default: String(32 * 1024 ** 2), doc: 'Hot response cache in bytes: complete responses of anonymous processed GETs (OSS `x-oss-process`, Cloudflare `/cdn-cgi/image/`) answered before routing, dropped on any change to their bucket; 0 = off. Always off with `HALFTONE_META=postgres` (other nodes\' writes are not seen).' },
  maxPipelines: { env: 'HALFTONE_MAX_PIPELINES', kind: 'natural', default: '0', doc: 'Image pipelines running at once; 0 = twice the number of CPU cores (the sequential parts of a pipeline leave cores idle otherwise).' },
  maxQueue: { env: 'HALFTONE_MAX_QUEUE', kind: 'natural', default: '64', doc: 'Image requests waiting for a pipeline; beyond it requests are refused at once with 503 and Retry-After.' },
  memoryBudgetBytes: { env: 'HALFTONE_MEMORY_BUDGET_BYTES', kind: 'natural', default: String(1024 ** 3), doc: 'Process memory (RSS) budget in bytes considered before admitting an image pipeline (estimated from the header probe); 0 = no memory check.' },
  pipelineTimeoutS: { env: 'HALFTONE_PIPELINE_TIMEOUT_S', kind: 'natural', default: '60', doc: 'Time budget in seconds of one image pipeline run (all its libvips passes, after admission); beyond it libvips stops and the request fails with TIMEOUT (OSS 504 RequestTimeout, Cloudflare 9529). 0 = no budget.' },
  vipsConcurrency: { env: 'HALFTONE_VIPS_CONCURRENCY', kind: 'natural', default: '0', doc: 'libvips worker threads per image (sharp.concurrency); 0 = follow the load: every core for an image processed alone, 1 while others are in flight.' },
  cfSourceBucket: { env: 'HALFTONE_CF_SOURCE_BUCKET', kind: 'string', default: '', doc: 'Bucket that relative Cloudflare sources are keys of; empty = the first path segment names the bucket (`/<bucket>/<key>`).' },
  // Operations: logs, metrics, playground (docs/observability.md, docs/playground.md).
  logLevel: { env: 'HALFTONE_LOG_LEVEL', kind: 'string', default: 'info', doc: 'JSON log level on stdout: `fatal`, `error`, `warn`, `info` (one line per request), `debug`, `trace` or `silent`.' },
  metrics: { env: 'HALFTONE_METRICS', kind: 'string', default: 'true', doc: '`true`: Prometheus metrics at `/metrics`; `false`: not mounted.' },
  playground: { env: 'HALFTONE_PLAYGROUND', kind: 'string', default: 'false', doc: '`true`: the web playground at `/playground`, which lets anyone reaching the server upload images into HALFTONE_PLAYGROUND_BUCKET (public-read); enable on demo or trusted networks only.' },
  playgroundBucket: { env: 'HALFTONE_PLAYGROUND_BUCKET', kind: 'string', default: 'halftone-playground', doc: 'The only bucket playground uploads go to (created public-read on first use). Not `playground`: path-style requests for it would reach the playground pages.' },
  playgroundMaxBytes: { env: 'HALFTONE_PLAYGROUND_MAX_BYTES', kind: 'bytes', default: String(10 * 1024 ** 2), doc: 'Largest image the playground accepts, in bytes.' },
  playgroundMaxObjects: { env: 'HALFTONE_PLAYGROUND_MAX_OBJECTS', kind: 'count', default: '200', doc: 'Most images kept in the playground bucket; older uploads are deleted first.' },
  // Video → animation (x-oss-async-process=video/animation) and task notifications.
  ffmpegPath: { env: 'HALFTONE_FFMPEG_PATH', kind: 'string', default: undefined, doc: 'ffmpeg binary for video/animation; unset = `ffmpeg` on PATH, else the static build of the npm package @ffmpeg-installer/ffmpeg.' },
  ffprobePath: { env: 'HALFTONE_FFPROBE_PATH', kind: 'string', default: undefined, doc: 'ffprobe binary; unset = `ffprobe` on PATH, else the npm package @ffprobe-installer/ffprobe.' },
  notifyBackoffMs: { env: 'HALFTONE_NOTIFY_BACKOFF_MS', kind: 'count', default: '1000', doc: 'Delay before the first retry of a failed task notification (doubled for each further retry, 6 attempts in all).' },
  notifyTopics: { env: 'HALFTONE_NOTIFY_TOPICS', kind: 'string', default: '', doc: 'Notify topics of async tasks as webhooks: `topic=http(s)://host/path,...` (repeat a topic for several URLs); `/notify,topic_<b64>` POSTs the IMM envelope to each URL of the topic.' },
  videoConcurrency: { env: 'HALFTONE_VIDEO_CONCURRENCY', kind: 'count', default: '1', doc: 'Most ffmpeg/ffprobe processes run at once by this process.' },
  videoMaxBytes: { env: 'HALFTONE_VIDEO_MAX_BYTES', kind: 'bytes', default: String(1024 ** 3), doc: 'Largest source object video/animation accepts.' },
  videoMaxDurationS: { env: 'HALFTONE_VIDEO_MAX_DURATION_S', kind: 'count', default: '3600', doc: 'Longest source video (declared duration, probed before decoding), in seconds.' },
  videoMaxFrames: { env: 'HALFTONE_VIDEO_MAX_FRAMES', kind: 'count', default: '1000', doc: 'Most frames of one animated GIF/WebP (raise inter or set num for longer clips).' },
  videoTimeoutS: { env: 'HALFTONE_VIDEO_TIMEOUT_S', kind: 'count', default: '600', doc: 'Time budget of one video/animation attempt, in seconds (the task then fails with RequestTimeout).' },
  // HTTP limits (slowloris defence, graceful shutdown)
  headersTimeoutMs: { env: 'HALFTONE_HEADERS_TIMEOUT_MS', kind: 'count', default: '20000', doc: 'A request head (request line and headers) must arrive within this many milliseconds, else the connection is closed.' },
  bodyTimeoutMs: { env: 'HALFTONE_BODY_TIMEOUT_MS', kind: 'count', default: '60000', doc: 'Bodies of non-streaming requests (all but object PUT, part upload and append) must arrive within this many milliseconds.' },
  idleTimeoutMs: { env: 'HALFTONE_IDLE_TIMEOUT_MS', kind: 'count', default: '120000', doc: 'A connection with no traffic for this many milliseconds is closed (also bounds stalled uploads).' },
  shutdownGraceMs: { env: 'HALFTONE_SHUTDOWN_GRACE_MS', kind: 'count', default: '30000', doc: 'On SIGTERM/SIGINT, in-flight requests get this many milliseconds to finish before the process exits (unfinished uploads leave no object).' },
  // Scale-out mode (docs/deploy.md): shared object storage and job queue.
  storage: { env: 'HALFTONE_STORAGE', kind: 'string', default: 'fs', doc: 'Where object bytes live: `fs` (the data dir) or `s3` (an S3-compatible bucket, HALFTONE_S3_*; needed when several nodes serve the same objects).' },
  s3Endpoint: { env: 'HALFTONE_S3_ENDPOINT', kind: 'string', default: '', doc: 'S3 endpoint URL for non-AWS servers (MinIO, Ceph, OSS), e.g. `http://minio:9000`; empty = AWS S3 in HALFTONE_S3_REGION.' },
  s3Region: { env: 'HALFTONE_S3_REGION', kind: 'string', default: 'us-east-1', doc: 'S3 region (signing region for S3-compatible servers).' },
  s3Bucket: { env: 'HALFTONE_S3_BUCKET', kind: 'string', default: '', doc: 'S3 bucket holding the blobs (required with HALFTONE_STORAGE=s3; it must exist).' },
  s3Prefix: { env: 'HALFTONE_S3_PREFIX', kind: 'string', default: '', doc: 'Key prefix inside the bucket (e.g. `halftone/`); blobs are stored under `<prefix>blobs/`.' },
  s3AccessKeyId: { env: 'HALFTONE_S3_ACCESS_KEY_ID', kind: 'string', default: undefined, doc: 'S3 access key id; unset = the AWS SDK default chain (AWS_* env, shared files, instance role).' },
  s3SecretAccessKey: { env: 'HALFTONE_S3_SECRET_ACCESS_KEY', kind: 'string', default: undefined, doc: 'S3 secret access key (set together with HALFTONE_S3_ACCESS_KEY_ID).' },
  s3ForcePathStyle: { env: 'HALFTONE_S3_FORCE_PATH_STYLE', kind: 'string', default: 'false', doc: '`true`: path-style requests (`endpoint/bucket/key`), needed by MinIO and most self-hosted servers; `false`: virtual-host style.' },
  queue: { env: 'HALFTONE_QUEUE', kind: 'string', default: 'embedded', doc: 'Background job queue: `embedded` (SQLite file in the data dir, one process) or `bullmq` (Redis at REDIS_URL, shared by every node and worker).' },
  redisUrl: { env: 'REDIS_URL', kind: 'string', default: '', doc: 'Redis for HALFTONE_QUEUE=bullmq: `redis://[user:password@]host:port[/db]` (`rediss://` for TLS).' },
  runJobs: { env: 'HALFTONE_RUN_JOBS', kind: 'string', default: 'true', doc: '`true`: this process runs background jobs (compression tasks, video animations) as well as serving; `false`: it only submits them, for serving nodes in scale-out mode whose jobs run in `halftone worker` processes (needs HALFTONE_QUEUE=bullmq).' },
  redisPrefix: { env: 'HALFTONE_REDIS_PREFIX', kind: 'string', default: 'halftone', doc: 'Key prefix of Halftone\'s keys in Redis; every process of one deployment uses the same prefix.' },
  meta: { env: 'HALFTONE_META', kind: 'string', default: 'sqlite', doc: 'Where metadata (buckets, object records, styles, uploads, access keys) lives: `sqlite` (meta.sqlite in the data dir, one serving node) or `postgres` (DATABASE_URL, shared by every node).' },
  databaseUrl: { env: 'DATABASE_URL', kind: 'string', default: '', doc: 'PostgreSQL for HALFTONE_META=postgres: `postgres://user:password@host:5432/db`; the schema is created on first start.' },
  blobGcIntervalMs: { env: 'HALFTONE_BLOB_GC_INTERVAL_MS', kind: 'natural', default: '3600000', doc: 'With HALFTONE_STORAGE=s3, serving nodes remove orphaned blobs (written, but no metadata row refers to them, e.g. a node killed mid-upload) this often, in ms; `0` = never (run `halftone gc` instead). Safe on every node at once.' },
  blobGcGraceMs: { env: 'HALFTONE_BLOB_GC_GRACE_MS', kind: 'count', default: '86400000', doc: 'Only blobs older than this (ms) are swept: keep it longer than the longest upload or multipart completion, or an in-flight write could lose its blob.' },
} as const satisfies Record<string, Setting<Kind>>;

type Schema = typeof CONFIG_SCHEMA;
type ValueOf<K extends Kind> = K extends 'port' | 'bytes' | 'count' | 'natural' ? number : K extends 'list' ? string[] : K extends 'map' ? Record<string, string> : string;

/** The loaded configuration (optional strings are `undefined` when unset). */
export type Config = {
  -readonly [N in keyof Schema]: Schema[N]['default'] extends string ? ValueOf<Schema[N]['kind']> : ValueOf<Schema[N]['kind']> | undefined;
};

export type LoadResult = { readonly ok: true; readonly config: Config } | { readonly ok: false; readonly errors: string[] };

/** Reads every setting from `env`; collects all problems instead of stopping at the first. */
export function load(env: Record<string, string | undefined>): LoadResult {
  const errors: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(CONFIG_SCHEMA) as [string, Setting<Kind>][]) {
    const raw = env[s.env] ?? s.default;
    if (raw === undefined) {
      out[name] = undefined;
      continue;
    }
    switch (s.kind) {
      case 'port': {
        const n = Number(raw);
        if (!/^\d+$/.test(raw) || n < 0 || n > 65535) errors.push(`${s.env}: expected integer between 0 and 65535 but received ${JSON.stringify(raw)}`);
        out[name] = n;
        break;
      }
      case 'bytes':
      case 'count': {
        const n = Number(raw);
        const unit = s.kind === 'bytes' ? ' (bytes)' : '';
        if (!/^\d+$/.test(raw) || n < 1) errors.push(`${s.env}: expected a positive integer${unit} but received ${JSON.stringify(raw)}`);
        out[name] = n;
        break;
      }
      case 'natural': {
        const n = Number(raw);
        if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) errors.push(`${s.env}: expected a non-negative integer but received ${JSON.stringify(raw)}`);
        out[name] = n;
        break;
      }
      case 'list':
        // Case is kept (URL paths and keys are case-sensitive); consumers compare host names case-insensitively.
        out[name] = raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
        break;
      case 'map': {
        const m: Record<string, string> = {};
        for (const pair of raw.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
          const i = pair.indexOf('=');
          if (i <= 0 || i === pair.length - 1) errors.push(`${s.env}: expected host=bucket but received ${JSON.stringify(pair)}`);
          else m[pair.slice(0, i).toLowerCase()] = pair.slice(i + 1);
        }
        out[name] = m;
        break;
      }
      default:
        out[name] = raw;
    }
  }
  const cfg = out as Config;
  if ((cfg.accessKeyId === undefined) !== (cfg.accessKeySecret === undefined)) {
    errors.push('HALFTONE_ACCESS_KEY_ID and HALFTONE_ACCESS_KEY_SECRET must be set together (or both left unset to generate a pair).');
  }
  for (const [env, v] of [['HALFTONE_ANY_PUBLIC_ORIGIN', cfg.anyPublicOrigin], ['HALFTONE_CF_STRICT', cfg.cfStrict]] as const) {
    if (v !== 'true' && v !== 'false') errors.push(`${env}: expected true or false but received ${JSON.stringify(v)}`);
  }
  if (cfg.taskPngKbyte !== 'allow' && cfg.taskPngKbyte !== 'reject') errors.push(`HALFTONE_TASK_PNG_KBYTE: expected allow or reject but received ${JSON.stringify(cfg.taskPngKbyte)}`);
  if (cfg.publicUrl !== '' && !/^https?:\/\/[^/?#]+\/?$/.test(cfg.publicUrl)) errors.push(`HALFTONE_PUBLIC_URL: expected an origin such as https://img.example.com but received ${JSON.stringify(cfg.publicUrl)}`);
  if (cfg.cfDefaultFit !== 'scale-down' && cfg.cfDefaultFit !== 'contain') errors.push(`HALFTONE_CF_DEFAULT_FIT: expected scale-down or contain but received ${JSON.stringify(cfg.cfDefaultFit)}`);
  if (!/^\/[^?#]*[^/?#]$/.test(cfg.cfPrefix)) errors.push(`HALFTONE_CF_PREFIX: expected a path such as /cdn-cgi/image but received ${JSON.stringify(cfg.cfPrefix)}`);
  if (!/^[-_/!]*$/.test(cfg.styleDelimiters)) errors.push(`HALFTONE_OSS_STYLE_DELIMITERS: expected only the characters - _ / ! but received ${JSON.stringify(cfg.styleDelimiters)}`);
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(cfg.logLevel)) errors.push(`HALFTONE_LOG_LEVEL: expected fatal, error, warn, info, debug, trace or silent but received ${JSON.stringify(cfg.logLevel)}`);
  for (const [env, v] of [['HALFTONE_METRICS', cfg.metrics], ['HALFTONE_PLAYGROUND', cfg.playground]] as const) {
    if (v !== 'true' && v !== 'false') errors.push(`${env}: expected true or false but received ${JSON.stringify(v)}`);
  }
  // Scale-out mode.
  if (cfg.storage !== 'fs' && cfg.storage !== 's3') errors.push(`HALFTONE_STORAGE: expected fs or s3 but received ${JSON.stringify(cfg.storage)}`);
  if (cfg.storage === 's3' && cfg.s3Bucket === '') errors.push('HALFTONE_S3_BUCKET: required when HALFTONE_STORAGE=s3.');
  if ((cfg.s3AccessKeyId === undefined) !== (cfg.s3SecretAccessKey === undefined)) {
    errors.push('HALFTONE_S3_ACCESS_KEY_ID and HALFTONE_S3_SECRET_ACCESS_KEY must be set together (or both left unset for the AWS default chain).');
  }
  if (cfg.s3ForcePathStyle !== 'true' && cfg.s3ForcePathStyle !== 'false') errors.push(`HALFTONE_S3_FORCE_PATH_STYLE: expected true or false but received ${JSON.stringify(cfg.s3ForcePathStyle)}`);
  if (cfg.s3Endpoint !== '' && !/^https?:\/\/[^/?#]+\/?$/.test(cfg.s3Endpoint)) errors.push(`HALFTONE_S3_ENDPOINT: expected http(s)://host[:port] but received ${JSON.stringify(cfg.s3Endpoint)}`);
  if (cfg.queue !== 'embedded' && cfg.queue !== 'bullmq') errors.push(`HALFTONE_QUEUE: expected embedded or bullmq but received ${JSON.stringify(cfg.queue)}`);
  if (cfg.runJobs !== 'true' && cfg.runJobs !== 'false') errors.push(`HALFTONE_RUN_JOBS: expected true or false but received ${JSON.stringify(cfg.runJobs)}`);
  else if (cfg.runJobs === 'false' && cfg.queue !== 'bullmq') errors.push('HALFTONE_RUN_JOBS=false needs HALFTONE_QUEUE=bullmq: with the embedded queue no other process can run this node\'s jobs.');
  if (cfg.queue === 'bullmq' && !/^rediss?:\/\/./.test(cfg.redisUrl)) errors.push("REDIS_URL: expected redis://host:port or rediss://host:port (required when HALFTONE_QUEUE=bullmq; the value is not shown, it may hold a password).");
  if (!/^[A-Za-z0-9_-]+$/.test(cfg.redisPrefix)) errors.push(`HALFTONE_REDIS_PREFIX: expected letters, digits, - or _ but received ${JSON.stringify(cfg.redisPrefix)}`);
  if (cfg.meta !== 'sqlite' && cfg.meta !== 'postgres') errors.push(`HALFTONE_META: expected sqlite or postgres but received ${JSON.stringify(cfg.meta)}`);
  if (cfg.meta === 'postgres' && !/^postgres(?:ql)?:\/\/./.test(cfg.databaseUrl)) errors.push('DATABASE_URL: expected postgres://user:password@host:port/db (required when HALFTONE_META=postgres; the value is not shown, it may hold a password).');
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config: cfg };
}
