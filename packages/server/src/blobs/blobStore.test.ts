import { readdirSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { blobDigest, FsBlobStore } from "./blobStore";

describe("FsBlobStore", () => {
  const dirs: Array<() => void> = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d();
  });
  const fresh = () => {
    const t = makeTempDir();
    dirs.push(t.cleanup);
    return new FsBlobStore(t.path);
  };

  it("stores bytes under their sha256 and reads them back", async () => {
    const s = fresh();
    const bytes = new TextEncoder().encode("hello");
    const d = await s.put(bytes);
    expect(d).toBe("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    expect(new TextDecoder().decode((await s.get(d))!)).toBe("hello");
    expect(await s.has(d)).toBe(true);
    expect(await s.put(bytes)).toBe(d);
  });

  it("returns null for an absent blob and leaves no temp files", async () => {
    const s = fresh();
    expect(await s.get(blobDigest(new Uint8Array([1])))).toBeNull();
    const d = await s.put(new Uint8Array([1, 2, 3]));
    const hex = d.slice(7);
    expect(readdirSync(join(s.root, "sha256", hex.slice(0, 2)))).toEqual([hex]);
  });

  it("refuses malformed digests (no path traversal)", async () => {
    const s = fresh();
    await expect(s.get("sha256:../../etc/passwd")).rejects.toThrow(/expected a blob digest/);
    await expect(s.has("md5:abc")).rejects.toThrow(/expected a blob digest/);
  });

  it("concurrent puts of the same bytes all succeed", async () => {
    const s = fresh();
    const bytes = new Uint8Array(100_000).fill(7);
    const ds = await Promise.all(Array.from({ length: 20 }, () => s.put(bytes)));
    expect(new Set(ds).size).toBe(1);
    expect((await s.get(ds[0]!))!.length).toBe(100_000);
  });
});
