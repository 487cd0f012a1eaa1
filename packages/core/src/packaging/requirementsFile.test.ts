import { describe, expect, it } from "vitest";
import { decodeRequirementsBytes, parseRequirementsFile } from "./requirementsFile";

describe("parseRequirementsFile", () => {
  it("handles continuations, comments after joining, env vars, hashes and editables", () => {
    const text = [
      "--index-url https://pypi.example/simple",
      "--extra-index-url=https://extra.example/simple",
      "numpy==1.26.4 \\",
      "    --hash=sha256:aaa --hash=sha256:bbb",
      "# a comment",
      "requests[socks] >= 2.31 ; python_version >= '3.8'  # trailing comment",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: pip's ${VAR} syntax under test
      "https://${TOKEN}@git.example/pkg.tar.gz#egg=pkg&subdirectory=sub",
      "-e git+https://github.com/org/repo.git@v1#egg=repo",
      "--pre",
    ].join("\n");
    const r = parseRequirementsFile(text, { file: "requirements.txt", env: { TOKEN: "t0k" } });
    expect(r.lines.map((l) => [l.lineno, l.requirement])).toEqual([
      [1, null],
      [2, null],
      [3, "numpy==1.26.4"],
      [6, "requests[socks] >= 2.31 ; python_version >= '3.8'"],
      [7, "https://t0k@git.example/pkg.tar.gz#egg=pkg&subdirectory=sub"],
      [8, "git+https://github.com/org/repo.git@v1#egg=repo"],
      [9, null],
    ]);
    expect(r.lines[2]?.options.hashes).toEqual({ sha256: ["aaa", "bbb"] });
    expect(r.lines[5]?.isEditable).toBe(true);
    expect(r.global.index_urls).toEqual(["https://pypi.example/simple", "https://extra.example/simple"]);
    expect(r.global.release_control.all_releases).toEqual([":all:"]);
  });

  it("includes -r and -c files through the loader, relative to the including file", () => {
    const files: Record<string, string> = {
      "deps/base.txt": "-c pins.txt\nflask",
      "deps/pins.txt": "flask==3.0.0",
    };
    const r = parseRequirementsFile("-r deps/base.txt\nrich", {
      file: "requirements.txt",
      loader: (p) => files[p] ?? "",
    });
    expect(r.lines.map((l) => [l.file, l.requirement, l.constraint])).toEqual([
      ["deps/pins.txt", "flask==3.0.0", true],
      ["deps/base.txt", "flask", false],
      ["requirements.txt", "rich", false],
    ]);
  });

  it("names the file and line in errors", () => {
    expect(() => parseRequirementsFile("ok\npkg --hash=nohash", { file: "r.txt" })).toThrow(
      /^r\.txt:2: Expected --hash/,
    );
    expect(() => parseRequirementsFile("--bogus", { file: "r.txt" })).toThrow(
      expect.objectContaining({ code: "E_REQUIREMENTS_FILE_INVALID", file: "r.txt", line: 1 }),
    );
    expect(() => parseRequirementsFile("-r a.txt", { file: "a.txt", loader: () => "" })).toThrow(
      /recursively references itself/,
    );
    expect(() => parseRequirementsFile("-r other.txt", { file: "r.txt" })).toThrow(/loader/);
  });

  it("decodes BOMs and PEP 263 headers", () => {
    expect(decodeRequirementsBytes(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]))).toBe("a");
    expect(decodeRequirementsBytes(new Uint8Array([0xff, 0xfe, 0x61, 0x00]))).toBe("a");
    const latin1 = new TextEncoder().encode("# coding=latin1\nx # caf");
    expect(decodeRequirementsBytes(Uint8Array.from([...latin1, 0xe9]))).toBe("# coding=latin1\nx # café");
  });
});
