import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createBodyDecoder, findUndecodable } from '../../../src/core/gateway/content-coding.js';

function decode(layers: string[], chunks: Buffer[]): Promise<Buffer> {
  const decoder = createBodyDecoder(layers)!;
  const out: Buffer[] = [];
  return new Promise((resolve, reject) => {
    decoder.onData((chunk) => out.push(chunk));
    decoder.onEnd(() => resolve(Buffer.concat(out)));
    decoder.onError(reject);
    for (const chunk of chunks) decoder.write(chunk);
    decoder.end();
  });
}

describe('content codings', () => {
  const text = Buffer.from('the body, with a value in it\n'.repeat(50));

  it('undo layers in reverse order of application, across chunk boundaries', async () => {
    const coded = brotliCompressSync(deflateSync(gzipSync(text)));
    const chunks = [coded.subarray(0, 3), coded.subarray(3, 10), coded.subarray(10)];
    expect(await decode(['gzip', 'deflate', 'br'], chunks)).toEqual(text);
    expect(await decode(['x-gzip'], [gzipSync(text)])).toEqual(text);
  });

  it('have nothing to undo for no layers, and an empty body decodes to nothing', async () => {
    expect(createBodyDecoder([])).toBeNull();
    expect(await decode(['gzip'], [])).toEqual(Buffer.alloc(0));
  });

  it('report a body that is not what its coding says', async () => {
    await expect(decode(['gzip'], [Buffer.from('not gzip at all')])).rejects.toThrow();
  });

  it('name the first layer they cannot decode', () => {
    expect(findUndecodable(['gzip', 'br', 'deflate', 'x-gzip'])).toBeUndefined();
    expect(findUndecodable(['gzip', 'compress', 'zstd'])).toBe('compress');
  });
});
