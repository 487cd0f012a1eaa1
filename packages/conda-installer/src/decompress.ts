import { createRequire } from "node:module";
import Bzip2 from "@foxglove/wasm-bz2";
import { decompress as fzstdDecompress } from "fzstd";
import { CondaInstallError, CondaInstallErrorCode } from "./errors";

/**
 * Decompressors, chosen by measurement (`pnpm bench install`): zstd through the native
 * `zstd-napi` addon when it built on this machine (an optional dependency compiled from its
 * bundled libzstd sources; no prebuilt download), else the pure-JS `fzstd`; bzip2 through
 * `@foxglove/wasm-bz2` (libbzip2 compiled to WebAssembly, about twice as fast as the pure-JS
 * decoders). node:zlib has neither codec on Node 20.
 */

type ZstdNative = { decompress(data: Uint8Array): Buffer };

let native: ZstdNative | null | undefined;

function loadNative(): ZstdNative | null {
  if (native !== undefined) return native;
  try {
    native = createRequire(import.meta.url)("zstd-napi") as ZstdNative;
  } catch {
    native = null;
  }
  return native;
}

/** Which zstd decoder this process uses: "zstd-napi" (native) or "fzstd" (pure JS). */
export function zstdBackend(): "zstd-napi" | "fzstd" {
  return loadNative() ? "zstd-napi" : "fzstd";
}

/** Decompress one zstd stream (one or more frames); throws on corrupt or truncated input. */
export function zstdDecompress(data: Uint8Array): Uint8Array {
  const n = loadNative();
  if (n) return n.decompress(data);
  return fzstdDecompress(data);
}

let bz2: Promise<Bzip2> | undefined;

/**
 * Decompress a bzip2 stream. The WebAssembly decoder needs the output size up front, which
 * `.tar.bz2` does not record: start from a generous multiple of the input and grow on
 * BZ_OUTBUFF_FULL.
 */
export async function bzip2Decompress(data: Uint8Array): Promise<Uint8Array> {
  bz2 ??= Bzip2.init();
  let decoder: Bzip2;
  try {
    decoder = await bz2;
  } catch (cause) {
    bz2 = undefined;
    throw new CondaInstallError(
      CondaInstallErrorCode.ARCHIVE_INVALID,
      `the bzip2 decoder (@foxglove/wasm-bz2, WebAssembly) could not be loaded here: ${(cause as Error).message}; .conda packages still install`,
      { cause },
    );
  }
  let size = Math.max(1 << 20, data.length * 8);
  const max = Math.max(1 << 24, data.length * 200);
  for (;;) {
    try {
      return decoder.decompress(data, size);
    } catch (e) {
      if (!/OUTBUFF_FULL/.test(String((e as Error).message)) || size >= max) throw e;
      size *= 4;
    }
  }
}
