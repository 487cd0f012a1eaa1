import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Marker, type MarkerEnvironment, markerEnvironment } from "./marker";

const linux311: MarkerEnvironment = {
  python_version: "3.11",
  python_full_version: "3.11.4",
  sys_platform: "linux",
  platform_machine: "x86_64",
  platform_system: "Linux",
  os_name: "posix",
  implementation_name: "cpython",
};

describe("Marker", () => {
  it("evaluates with and/or precedence", () => {
    const m = new Marker('python_version < "3.8" and sys_platform == "win32" or os_name == "posix"');
    expect(m.evaluate(linux311)).toBe(true);
    const g = new Marker('python_version < "3.8" and (sys_platform == "win32" or os_name == "posix")');
    expect(g.evaluate(linux311)).toBe(false);
  });

  it("compares versions by PEP 440 and strings by the packaging 26 rules", () => {
    expect(new Marker('python_full_version >= "3.11.0rc1"').evaluate(linux311)).toBe(true);
    expect(new Marker('python_version > "3.9"').evaluate(linux311)).toBe(true);
    expect(new Marker('sys_platform > "a"').evaluate(linux311)).toBe(false);
    expect(new Marker('"x86" in platform_machine').evaluate(linux311)).toBe(true);
  });

  it("normalises extras and handles the extra variable", () => {
    const m = new Marker("extra == 'Foo_Bar'");
    expect(m.toString()).toBe('extra == "foo-bar"');
    expect(m.evaluate({ ...linux311, extra: "foo.bar" })).toBe(true);
    expect(m.evaluate(linux311)).toBe(false);
  });

  it("builds target environments without host I/O", () => {
    const win = markerEnvironment({ pythonVersion: "3.12.1", platform: "win32" });
    expect(
      new Marker('sys_platform == "win32" and python_version >= "3.12" and os_name == "nt"').evaluate(win),
    ).toBe(true);
    const mac = markerEnvironment({ pythonVersion: "3.10.4", platform: "darwin", machine: "arm64" });
    expect(new Marker('platform_machine == "arm64" and python_full_version < "3.11"').evaluate(mac)).toBe(
      true,
    );
  });

  it("rejects malformed markers and undefined names with codes", () => {
    expect(() => new Marker("python_version")).toThrow(/Expected a comparison operator/);
    expect(() => new Marker('os_name == "x"\n')).toThrow(/single-line/);
    expect(() => new Marker('python_version >= "3" or').evaluate(linux311)).toThrow();
    try {
      new Marker('platform_release >= "5"').evaluate(linux311);
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe("E_MARKER_UNDEFINED_NAME");
    }
  });

  it("property: parse(toString(m)) == m", () => {
    const variable = fc.constantFrom("python_version", "sys_platform", "os_name", "platform_machine");
    const value = fc.stringMatching(/^[a-z0-9.]{0,6}$/);
    const op = fc.constantFrom("==", "!=", ">=", "<", "in", "not in");
    const cmp = fc.tuple(variable, op, value).map(([v, o, x]) => `${v} ${o} '${x}'`);
    const expr = fc.array(cmp, { minLength: 1, maxLength: 4 }).chain((parts) =>
      fc
        .array(fc.constantFrom(" and ", " or "), {
          minLength: parts.length - 1,
          maxLength: parts.length - 1,
        })
        .map((ops) =>
          parts.reduce((acc, p, i) => (i === 0 ? p : `${acc}${ops[i - 1]}${i % 2 ? `(${p})` : p}`), ""),
        ),
    );
    fc.assert(
      fc.property(expr, (text) => {
        const m = new Marker(text);
        const again = new Marker(m.toString());
        expect(again.toString()).toBe(m.toString());
        expect(again.evaluate(linux311)).toBe(m.evaluate(linux311));
      }),
    );
  });
});
