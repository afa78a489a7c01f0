// Undoing the codings of an upstream body so it can be scrubbed: every
// Content-Encoding layer of a bound host's answer and every Transfer-Encoding
// layer but the final `chunked` (which the HTTP parser already removed).
// A layer the gateway cannot decode is reported, and the answer refused:
// bytes it cannot read are bytes it cannot scrub.
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';

const DECODERS: Record<string, () => Transform> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate, br: createBrotliDecompress };

/** The first layer (in `layers`, listed in the order they were applied) that cannot be decoded, if any. */
export function findUndecodable(layers: readonly string[]): string | undefined {
  return layers.find((layer) => DECODERS[layer] === undefined);
}

/** What a body decoder offers the relay: bytes in, decoded bytes out, backpressure both ways. */
export interface BodyDecoder {
  /** False when the caller should wait for `onDrain`. */
  write(chunk: Buffer): boolean;
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  onData(listener: (chunk: Buffer) => void): void;
  onDrain(listener: () => void): void;
  onEnd(listener: () => void): void;
  onError(listener: (error: Error) => void): void;
}

/**
 * A decoder for a body coded with `layers` (in the order they were applied:
 * the last one is undone first); null when there is nothing to undo. Call
 * findUndecodable first: every layer must have a decoder.
 */
export function createBodyDecoder(layers: readonly string[]): BodyDecoder | null {
  if (layers.length === 0) return null;
  const stages = [...layers].reverse().map((layer) => DECODERS[layer]!());
  for (let i = 0; i + 1 < stages.length; i += 1) stages[i]!.pipe(stages[i + 1]!);
  const first = stages[0]!;
  const last = stages.at(-1)!;
  let wrote = false;
  let failed = false;
  let errorListener: (error: Error) => void = () => {};
  for (const stage of stages) {
    stage.on('error', (error: Error) => {
      if (failed) return;
      failed = true;
      errorListener(error);
    });
  }
  let endListener: () => void = () => {};
  last.once('end', () => endListener());
  return {
    write(chunk) {
      if (chunk.length > 0) wrote = true;
      return first.write(chunk);
    },
    // An empty body is no gzip stream at all (zlib would call it truncated): nothing to decode.
    end: () => (wrote ? first.end() : endListener()),
    destroy: () => {
      failed = true;
      for (const stage of stages) stage.destroy();
    },
    pause: () => last.pause(),
    resume: () => last.resume(),
    onData: (listener) => void last.on('data', listener),
    onDrain: (listener) => void first.on('drain', listener),
    onEnd: (listener) => {
      endListener = listener;
    },
    onError: (listener) => {
      errorListener = listener;
    },
  };
}
