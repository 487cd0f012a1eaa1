import { buildWheel } from "@mlenv/test-utils";
import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { isWheelError, type WheelErrorCode } from "./errors";
import { validateWheel } from "./validateWheel";
import { parseWheelFilename } from "./wheelFilename";

function expectCode(fn: () => unknown, code: WheelErrorCode): string {
  try {
    fn();
  } catch (e) {
    expect(isWheelError(e, code), `expected ${code}, got ${String(e)}`).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

/** Apply `edit` to the central-directory entry of member `name` (offset of its signature). */
function patchCentral(
  bytes: Uint8Array,
  name: string,
  edit: (view: DataView, at: number) => void,
): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const nameBytes = new TextEncoder().encode(name);
  for (let i = 0; i < out.length - 46; i++) {
    if (view.getUint32(i, true) !== 0x02014b50) continue;
    const len = view.getUint16(i + 28, true);
    if (len === nameBytes.length && out.subarray(i + 46, i + 46 + len).every((b, j) => b === nameBytes[j])) {
      edit(view, i);
      return out;
    }
  }
  throw new Error(`no central entry for ${name}`);
}

/** Overwrite the central-directory uncompressed size of member `name`. */
function patchDeclaredSize(bytes: Uint8Array, name: string, size: number): Uint8Array {
  return patchCentral(bytes, name, (view, at) => view.setUint32(at + 24, size, true));
}

describe("validateWheel", () => {
  it("accepts a real wheel and reports its metadata", () => {
    const w = buildWheel({
      name: "My.Pkg",
      version: "1.2.0",
      requiresPython: ">=3.8",
      requiresDist: ["six>=1"],
    });
    expect(w.filename).toBe("My_Pkg-1.2.0-py3-none-any.whl");
    const v = validateWheel(w.filename, w.bytes);
    expect(v.name).toBe("My.Pkg");
    expect(v.file.project).toBe("my-pkg");
    expect(v.version).toBe("1.2.0");
    expect(v.requiresPython).toBe(">=3.8");
    expect(v.requiresDist).toEqual(["six>=1"]);
    expect(v.sha256).toBe(w.sha256);
    expect(new TextDecoder().decode(v.metadata)).toBe(w.metadata);
  });

  it("accepts build tags and platform-specific tags", () => {
    const w = buildWheel({
      name: "fast",
      version: "2.0",
      buildTag: "1",
      pythonTag: "cp311",
      abiTag: "cp311",
      platformTag: "manylinux_2_17_x86_64.manylinux2014_x86_64",
    });
    expect(validateWheel(w.filename, w.bytes).file.buildTag).toBe("1");
  });

  it.each([
    ["../evil-1.0-py3-none-any.whl"],
    ["dir/evil-1.0-py3-none-any.whl"],
    ["evil\\x-1.0-py3-none-any.whl"],
    ["evil\u0000-1.0-py3-none-any.whl"],
    ["evil-1.0-py3-none-any.whl\n"],
    ["$(touch pwned)-1.0-py3-none-any.whl"],
    ["evil;rm-1.0-py3-none-any.whl"],
    ["evil`id`-1.0-py3-none-any.whl"],
    ["evil-1..0-py3-none-any.whl"],
    ["evil 1.0-py3-none-any.whl"],
    ["evil-1.0.tar.gz"],
    ["evil-1.0-py3-none.whl"],
    [""],
  ])("refuses the file name %j", (name) => {
    const w = buildWheel({ name: "evil", version: "1.0" });
    const msg = expectCode(() => validateWheel(name, w.bytes), "E_WHEEL_FILENAME_INVALID");
    expect(msg).toMatch(/Expected a PEP 427 wheel file name/);
    expect(msg).not.toContain("\u0000");
  });

  it("refuses bytes that are not a zip", () => {
    expectCode(
      () =>
        validateWheel("a-1.0-py3-none-any.whl", new TextEncoder().encode("#!/bin/sh\necho hi\n".repeat(10))),
      "E_WHEEL_NOT_ZIP",
    );
  });

  it("refuses a truncated zip", () => {
    const w = buildWheel({ name: "a", version: "1.0" });
    expectCode(() => validateWheel(w.filename, w.bytes.subarray(0, w.bytes.length - 10)), "E_WHEEL_NOT_ZIP");
  });

  it("refuses a wheel over the size limit", () => {
    const w = buildWheel({ name: "a", version: "1.0" });
    const msg = expectCode(() => validateWheel(w.filename, w.bytes, { maxBytes: 100 }), "E_WHEEL_TOO_LARGE");
    expect(msg).toContain("at most 100 bytes");
  });

  it("refuses a member with a bomb-like compression ratio", () => {
    const w = buildWheel({
      name: "bomb",
      version: "1.0",
      level: 9,
      files: { "bomb/zeros.bin": new Uint8Array(8 * 1024 * 1024) },
    });
    expectCode(() => validateWheel(w.filename, w.bytes), "E_WHEEL_ZIP_BOMB");
  });

  it("refuses archives whose total uncompressed size is over the limit", () => {
    const w = buildWheel({ name: "big", version: "1.0", files: { "big/a.txt": "x".repeat(4000) } });
    expectCode(() => validateWheel(w.filename, w.bytes, { maxUncompressedBytes: 2000 }), "E_WHEEL_ZIP_BOMB");
  });

  it("refuses a member that inflates past its declared size (lying central directory)", () => {
    const w = buildWheel({
      name: "liar",
      version: "1.0",
      files: { "liar/__init__.py": "A = 1\n".repeat(2000) },
    });
    const patched = patchDeclaredSize(w.bytes, "liar/__init__.py", 100);
    expectCode(() => validateWheel(w.filename, patched), "E_WHEEL_ZIP_BOMB");
  });

  it("refuses archives with too many entries", () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`many/m${i}.py`] = "";
    const w = buildWheel({ name: "many", version: "1.0", files });
    expectCode(() => validateWheel(w.filename, w.bytes, { maxEntries: 10 }), "E_WHEEL_ZIP_BOMB");
  });

  it.each([
    ["../evil.py"],
    ["/etc/cron.d/evil"],
    ["pkg/../../evil.py"],
    ["pkg\\..\\evil.py"],
    ["C:/evil.py"],
    ["pkg/a\u0000.py"],
    ["pkg//a.py"],
  ])("refuses the archive member %j", (member) => {
    const w = buildWheel({
      name: "trav",
      version: "1.0",
      mutate: (m) => {
        m[member] = new TextEncoder().encode("x");
      },
    });
    expectCode(() => validateWheel(w.filename, w.bytes), "E_WHEEL_UNSAFE_MEMBER");
  });

  it("refuses encrypted members and zip64 sizes", () => {
    const w = buildWheel({ name: "enc", version: "1.0" });
    const encrypted = patchCentral(w.bytes, "enc/__init__.py", (v, at) =>
      v.setUint16(at + 8, v.getUint16(at + 8, true) | 1, true),
    );
    expectCode(() => validateWheel(w.filename, encrypted), "E_WHEEL_UNSUPPORTED_ZIP");
    const zip64 = patchCentral(w.bytes, "enc/__init__.py", (v, at) => v.setUint32(at + 24, 0xffffffff, true));
    expectCode(() => validateWheel(w.filename, zip64), "E_WHEEL_UNSUPPORTED_ZIP");
  });

  it("refuses a central entry that points at another member's data (overlap / name smuggling)", () => {
    const w = buildWheel({
      name: "ovl",
      version: "1.0",
      files: { "ovl/a.py": "A = 1\n", "ovl/b.py": "B = 2\n" },
    });
    const view = new DataView(w.bytes.buffer, w.bytes.byteOffset);
    let aOffset = -1;
    patchCentral(w.bytes, "ovl/a.py", (v, at) => {
      aOffset = v.getUint32(at + 42, true);
    });
    expect(view.getUint32(aOffset, true)).toBe(0x04034b50);
    const smuggled = patchCentral(w.bytes, "ovl/b.py", (v, at) => v.setUint32(at + 42, aOffset, true));
    expectCode(() => validateWheel(w.filename, smuggled), "E_WHEEL_UNSAFE_MEMBER");
  });

  it("refuses a symbolic link member", () => {
    const w = buildWheel({ name: "link", version: "1.0" });
    const link = zipSync({
      "link/evil": [new TextEncoder().encode("/etc/passwd"), { os: 3, attrs: (0o120777 << 16) >>> 0 }],
    });
    expectCode(() => validateWheel(w.filename, link), "E_WHEEL_UNSAFE_MEMBER");
  });

  it.each([
    ["RECORD", "norec"],
    ["METADATA", "nometa"],
  ])("refuses a wheel without %s", (file, name) => {
    const w = buildWheel({
      name,
      version: "1.0",
      mutate: (m) => void delete m[`${name}-1.0.dist-info/${file}`],
    });
    expectCode(() => validateWheel(w.filename, w.bytes), "E_WHEEL_METADATA_INVALID");
  });

  it("refuses METADATA whose Name or Version differs from the file name", () => {
    const a = buildWheel({ name: "right", version: "1.0", metadataName: "wrong" });
    expect(expectCode(() => validateWheel(a.filename, a.bytes), "E_WHEEL_METADATA_MISMATCH")).toContain(
      '"wrong"',
    );
    const b = buildWheel({ name: "right", version: "1.0", metadataVersion: "2.0" });
    expectCode(() => validateWheel(b.filename, b.bytes), "E_WHEEL_METADATA_MISMATCH");
    // The same bytes under another name do not pass either.
    const c = buildWheel({ name: "right", version: "1.0" });
    expectCode(() => validateWheel("other-1.0-py3-none-any.whl", c.bytes), "E_WHEEL_METADATA_MISMATCH");
  });

  it("refuses members missing from RECORD or not matching their RECORD hash", () => {
    const extra = buildWheel({
      name: "rec",
      version: "1.0",
      mutate: (m) => {
        m["rec/extra.py"] = new Uint8Array([1]);
      },
    });
    expectCode(() => validateWheel(extra.filename, extra.bytes), "E_WHEEL_RECORD_MISMATCH");
    const changed = buildWheel({
      name: "rec",
      version: "1.0",
      mutate: (m) => {
        m["rec/__init__.py"] = new TextEncoder().encode("import os; os.system('id')\n");
      },
    });
    expectCode(() => validateWheel(changed.filename, changed.bytes), "E_WHEEL_RECORD_MISMATCH");
  });
});

describe("parseWheelFilename", () => {
  it("splits a PEP 427 name and normalises the project", () => {
    expect(parseWheelFilename("Foo.Bar_baz-0.1+local.1-7-cp38.cp39-abi3-linux_x86_64.whl")).toEqual({
      filename: "Foo.Bar_baz-0.1+local.1-7-cp38.cp39-abi3-linux_x86_64.whl",
      distribution: "Foo.Bar_baz",
      project: "foo-bar-baz",
      version: "0.1+local.1",
      buildTag: "7",
      pythonTag: "cp38.cp39",
      abiTag: "abi3",
      platformTag: "linux_x86_64",
    });
  });
});
