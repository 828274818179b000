/**
 * FaceDetector on @vladmandic/face-api's Tiny Face Detector (a small CNN whose weights ship inside
 * the npm package, in `model/`), run by TensorFlow.js on its WebAssembly backend (the .wasm files
 * also ship in the package; nothing is downloaded at run time).
 *
 * The module and the model (≈190 KB) are loaded on the first call, so servers that never see
 * `gravity=face` pay nothing. Calls are serialised: the wasm backend is single-threaded and
 * concurrent inferences would only contend for it.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FaceBox, FaceDetector } from '../../ports/face-detector.js';

export interface FaceApiOptions {
  /** Minimum confidence (default 0.5). */
  readonly minScore?: number;
  /** Network input size, a multiple of 32 (default 416: good recall for faces ≥ ~20 px). */
  readonly inputSize?: number;
}

/** The small part of face-api's API used here (its bundled typings need DOM types). */
interface FaceApiModule {
  readonly tf: {
    setBackend(name: string): Promise<boolean>;
    ready(): Promise<void>;
    tensor3d(values: Uint8Array, shape: [number, number, number], dtype: 'int32'): { dispose(): void };
  };
  readonly nets: { readonly tinyFaceDetector: { loadFromDisk(dir: string): Promise<void> } };
  readonly TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => unknown;
  detectAllFaces(input: unknown, options: unknown): Promise<Array<{ score: number; box: { x: number; y: number; width: number; height: number } }>>;
}

const require = createRequire(import.meta.url);

let loading: Promise<FaceApiModule> | undefined;

async function load(): Promise<FaceApiModule> {
  const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
  await api.tf.setBackend('wasm');
  await api.tf.ready();
  const modelDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await api.nets.tinyFaceDetector.loadFromDisk(modelDir);
  return api;
}

/** Creates the detector (nothing is loaded until the first `detect`). */
export function createFaceApiDetector(opts: FaceApiOptions = {}): FaceDetector {
  const minScore = opts.minScore ?? 0.5;
  const inputSize = opts.inputSize ?? 416;
  let queue: Promise<unknown> = Promise.resolve();
  return {
    detect(image: Buffer): Promise<readonly FaceBox[]> {
      const run = async (): Promise<readonly FaceBox[]> => {
        loading = loading ?? load();
        const api = await loading;
        // Imported here so that composing the server does not load sharp (main.ts loads it lazily).
        const { default: sharp } = await import('sharp');
        const { data, info } = await sharp(image).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
        const tensor = api.tf.tensor3d(new Uint8Array(data.buffer, data.byteOffset, data.length), [info.height, info.width, 3], 'int32');
        try {
          const found = await api.detectAllFaces(tensor, new api.TinyFaceDetectorOptions({ inputSize, scoreThreshold: minScore }));
          return found.map((d) => ({ x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height, score: d.score }));
        } finally {
          tensor.dispose();
        }
      };
      const next = queue.then(run, run);
      queue = next.catch(() => undefined);
      return next;
    },
  };
}
