import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Requirement } from "./requirement";

describe("Requirement", () => {
  it("parses every part", () => {
    const r = Requirement.parse('Requests [socks, security] (>=2.8.1, <3) ; python_version >= "3.8"');
    expect(r.name).toBe("Requests");
    expect(r.canonicalName).toBe("requests");
    expect(r.extras).toEqual(["socks", "security"]);
    expect(r.specifier.toString()).toBe("<3,>=2.8.1");
    expect(r.marker?.toString()).toBe('python_version >= "3.8"');
    expect(r.toString()).toBe('Requests[security,socks]<3,>=2.8.1; python_version >= "3.8"');
  });

  it("parses URL requirements", () => {
    const r = new Requirement("pkg @ https://example.com/pkg-1.0.tar.gz#sha256=ab ; os_name == 'nt'");
    expect(r.url).toBe("https://example.com/pkg-1.0.tar.gz#sha256=ab");
    expect(r.toString()).toBe('pkg @ https://example.com/pkg-1.0.tar.gz#sha256=ab ; os_name == "nt"');
  });

  it("rejects invalid requirements with a coded error", () => {
    for (const bad of [
      "",
      "==1.0",
      "name 1.0",
      "name[a,",
      "name >= 1.0 <= 2.0",
      "name>=1\n",
      "name @ http://x/; os_name=='a'",
    ]) {
      expect(() => new Requirement(bad), bad).toThrow(
        expect.objectContaining({ code: "E_REQUIREMENT_INVALID" }),
      );
    }
  });

  it("compares after normalisation", () => {
    expect(
      new Requirement("scikit_learn[A_B]==1.0").equals(new Requirement("Scikit-Learn[a-b]==1.0.0")),
    ).toBe(true);
    expect(new Requirement("a>1").equals(new Requirement("a>=1"))).toBe(false);
  });

  it("property: parse(toString(r)) == r", () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,8}[A-Za-z0-9]$/);
    const extras = fc.array(fc.stringMatching(/^[a-z][a-z0-9]{0,4}$/), { maxLength: 3 });
    const spec = fc.constantFrom("", ">=1.0", "==2.*", "~=1.4,!=1.5", "<3,>1");
    const marker = fc.constantFrom("", 'python_version >= "3.8"', "os_name == 'posix' or extra == 'X_y'");
    fc.assert(
      fc.property(name, extras, spec, marker, (n, e, s, m) => {
        const text = `${n}${e.length ? `[${e.join(",")}]` : ""}${s}${m ? `; ${m}` : ""}`;
        const r = new Requirement(text);
        const again = new Requirement(r.toString());
        expect(again.equals(r)).toBe(true);
        expect(again.toString()).toBe(r.toString());
      }),
    );
  });
});
