/**
 * ResultExporter: puts a processed result into the client's own cloud storage (Abstract-style API
 * `s3_store` / `azure_store`) and answers the object's URL.
 *
 * The target endpoint is user input: every implementation applies the remote-fetch address policy
 * to it (loopback, private, link-local, metadata and reserved addresses only for origins listed in
 * HALFTONE_ALLOWED_ORIGINS), on the URL and on every resolved address.
 *
 * Failures are AppErrors: EXPORT_TARGET_NOT_ALLOWED (the endpoint is refused by the address
 * policy) or EXPORT_FAILED (the storage service refused or could not be reached; the public
 * message names the service's error code, never the credentials).
 */

export interface S3ExportTarget {
  readonly kind: 's3';
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly bucket: string;
  readonly region: string;
  /** Object key. */
  readonly key: string;
  /** S3-compatible endpoint (path-style addressing); absent = AWS (`s3.<region>.amazonaws.com`). */
  readonly endpoint?: string;
  readonly acl?: 'private' | 'public-read';
}

export interface AzureExportTarget {
  readonly kind: 'azure';
  readonly account: string;
  /** Shared key (base64) of the storage account. */
  readonly accountKey: string;
  readonly container: string;
  readonly blobName: string;
  /** Blob service URL, e.g. `http://127.0.0.1:10000/devstoreaccount1`; absent = `https://<account>.blob.core.windows.net`. */
  readonly endpoint?: string;
}

export type ExportTarget = S3ExportTarget | AzureExportTarget;

export interface ExportObject {
  readonly bytes: Buffer;
  readonly contentType: string;
}

export interface ExportedObject {
  /** URL of the stored object (not signed: readable when the bucket/container allows it). */
  readonly url: string;
}

export interface ResultExporter<T extends ExportTarget = ExportTarget> {
  export(target: T, object: ExportObject): Promise<ExportedObject>;
}
