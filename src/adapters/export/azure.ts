/**
 * ResultExporter for Azure Blob storage (@azure/storage-blob) with a storage-account shared key.
 * The blob service URL is `https://<account>.blob.core.windows.net` unless the target names an
 * `endpoint` (Azurite: `http://127.0.0.1:10000/<account>`). The endpoint passes the export address
 * policy (endpoint-guard.ts); every request the SDK sends uses the guarded agent.
 */
import { BlobServiceClient, newPipeline, RestError, StorageSharedKeyCredential, type RequestPolicy, type RequestPolicyFactory, type WebResource } from '@azure/storage-blob';
import { AppError } from '../../core/errors.js';
import type { AzureExportTarget, ExportedObject, ExportObject, ResultExporter } from '../../ports/result-exporter.js';
import { createEndpointGuard, guardRefusal, type EndpointGuardOptions } from './endpoint-guard.js';

export interface AzureExporterOptions extends EndpointGuardOptions {
  /** Per-request time budget (default 30 s). */
  readonly timeoutMs?: number;
}

export function createAzureExporter(opts: AzureExporterOptions = {}): ResultExporter<AzureExportTarget> {
  const guard = createEndpointGuard(opts);
  return {
    async export(target: AzureExportTarget, object: ExportObject): Promise<ExportedObject> {
      if (!/^[a-z0-9]{1,64}$/.test(target.account)) throw new AppError('EXPORT_FAILED', 'The Azure storage account name is not valid.');
      const endpoint = target.endpoint ?? `https://${target.account}.blob.core.windows.net`;
      const guarded = guard.guard(endpoint);
      let credential: StorageSharedKeyCredential;
      try {
        credential = new StorageSharedKeyCredential(target.account, target.accountKey);
      } catch (err) {
        throw new AppError('EXPORT_FAILED', 'The Azure account key is not valid base64.', { cause: err });
      }
      const agent = guarded.url.protocol === 'https:' ? guarded.httpsAgent : guarded.httpAgent;
      // Every request (and retry) carries the guarded agent.
      const withAgent: RequestPolicyFactory = {
        create: (next: RequestPolicy): RequestPolicy => ({
          sendRequest: (request: WebResource) => {
            request.agent = agent;
            return next.sendRequest(request);
          },
        }),
      };
      const pipeline = newPipeline(credential, { retryOptions: { maxTries: 2, tryTimeoutInMs: opts.timeoutMs ?? 30_000 } });
      // Added to the pipeline newPipeline built (it keeps the credential on that object).
      pipeline.factories.unshift(withAgent);
      const service = new BlobServiceClient(guarded.url.href.replace(/\/+$/, ''), pipeline);
      const blob = service.getContainerClient(target.container).getBlockBlobClient(target.blobName);
      try {
        await blob.uploadData(object.bytes, { blobHTTPHeaders: { blobContentType: object.contentType } });
      } catch (err) {
        const refused = guardRefusal(err);
        if (refused !== undefined) throw refused;
        if (err instanceof RestError && err.statusCode !== undefined) {
          throw new AppError('EXPORT_FAILED', `The Azure upload failed: ${err.code ?? 'error'} (HTTP ${err.statusCode}).`, { cause: err });
        }
        throw new AppError('EXPORT_FAILED', 'The Azure endpoint could not be reached.', { cause: err });
      } finally {
        guarded.destroy();
      }
      return { url: blob.url };
    },
  };
}
