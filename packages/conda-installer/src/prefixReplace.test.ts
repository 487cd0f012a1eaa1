import { describe, expect, it } from "vitest";
import { replaceBinary, replaceText } from "./prefixReplace";

const b = (s: string) => Buffer.from(s, "latin1");

describe("prefix placeholders (conda's rules)", () => {
  it("binary: same length, NUL-padded, every placeholder in one C string", () => {
    expect(replaceBinary(b("xxxaaaaaxyz\0zz"), "aaaaa", "bbbbb", "t")).toEqual(b("xxxbbbbbxyz\0zz"));
    expect(replaceBinary(b("xxxaaaaaxyz\0zz"), "aaaaa", "bbbb", "t")).toEqual(b("xxxbbbbxyz\0\0zz"));
    expect(replaceBinary(b("aaaaa:aaaaa/lib\0aaaaa\0"), "aaaaa", "bb", "t")).toEqual(
      b("bb:bb/lib\0\0\0\0\0\0\0bb\0\0\0\0"),
    );
    expect(replaceBinary(b("no placeholder\0"), "aaaaa", "bb", "t")).toEqual(b("no placeholder\0"));
  });

  it("binary: a prefix longer than the placeholder is an error", () => {
    expect(() => replaceBinary(b("xxxaaaaaxyz\0zz"), "aaaaa", "bbbbbbbb", "pkg: bin/x")).toThrow(
      expect.objectContaining({
        code: "E_CONDA_PREFIX_TOO_LONG",
        message: expect.stringContaining("pkg: bin/x"),
      }),
    );
  });

  it("text: every occurrence, length may change", () => {
    expect(replaceText(b("#!/opt/p/bin/python\nx=/opt/p\n"), "/opt/p", "/home/u/env").toString()).toBe(
      "#!/home/u/env/bin/python\nx=/home/u/env\n",
    );
  });
});
