import { spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { packTar } from "modern-tar";
import { afterAll, describe, expect, it } from "vitest";
import { readTar } from "./tar";

const tmp = makeTempDir("mlenv-tar-");
afterAll(() => tmp.cleanup());
const long = `lib/${"d".repeat(90)}/${"e".repeat(90)}/${"f".repeat(120)}.txt`;

describe("readTar", () => {
  it("reads what modern-tar writes: files, folders, links, long names (pax), modes", async () => {
    const tar = await packTar([
      { header: { name: "bin/", size: 0, type: "directory", mode: 0o755 } },
      { header: { name: "bin/tool", size: 3, mode: 0o755 }, body: "abc" },
      { header: { name: long, size: 2 }, body: "hi" },
      { header: { name: "bin/link", size: 0, type: "symlink", linkname: "tool" } },
      { header: { name: "bin/hard", size: 0, type: "link", linkname: "bin/tool" } },
    ]);
    const m = readTar(tar);
    expect(m.map((x) => [x.name, x.type, x.linkname, Buffer.from(x.data).toString()])).toEqual([
      ["bin/", "directory", "", ""],
      ["bin/tool", "file", "", "abc"],
      [long, "file", "", "hi"],
      ["bin/link", "symlink", "tool", ""],
      ["bin/hard", "link", "bin/tool", ""],
    ]);
    expect(m[1]?.mode).toBe(0o755);
  });

  it("reads GNU tar's archives (long names and link targets, gnu and pax formats)", () => {
    const src = join(tmp.path, "src");
    mkdirSync(join(src, long, ".."), { recursive: true });
    writeFileSync(join(src, long), "long");
    symlinkSync(`../${long}`, join(src, "lib", "to-long"));
    for (const format of ["gnu", "pax", "ustar"]) {
      const r = spawnSync("tar", ["-c", `--format=${format}`, "-C", src, "lib"], { maxBuffer: 1 << 26 });
      if (format === "ustar") {
        // ustar cannot hold a 100+ byte link target: tar refuses, nothing to read
        continue;
      }
      expect(r.status).toBe(0);
      const m = readTar(new Uint8Array(r.stdout));
      expect(m.find((x) => x.name === long)?.data.length).toBe(4);
      expect(m.find((x) => x.name === "lib/to-long")?.linkname).toBe(`../${long}`);
    }
  });

  it("refuses a bad checksum, a truncated member and a missing end marker", async () => {
    const tar = await packTar([{ header: { name: "a", size: 600 }, body: "x".repeat(600) }]);
    const bad = Uint8Array.from(tar);
    bad[0] = "b".charCodeAt(0);
    expect(() => readTar(bad)).toThrow(/checksum/);
    expect(() => readTar(tar.subarray(0, 700))).toThrow(/truncated/);
    expect(() => readTar(tar.subarray(0, 1536))).toThrow(/end-of-archive/);
  });
});
