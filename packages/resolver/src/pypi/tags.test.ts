import { describe, expect, it } from "vitest";
import { markerEnvironment } from "./tags";

describe("markerEnvironment", () => {
  it("gives the PEP 508 environment of CPython on each conda platform", () => {
    const base = {
      implementation_name: "cpython",
      platform_python_implementation: "CPython",
      platform_release: "",
      platform_version: "",
    };
    expect(markerEnvironment({ python: "3.12", platform: "linux-64" })).toEqual({
      ...base,
      python_version: "3.12",
      python_full_version: "3.12.0",
      implementation_version: "3.12.0",
      os_name: "posix",
      sys_platform: "linux",
      platform_system: "Linux",
      platform_machine: "x86_64",
    });
    expect(markerEnvironment({ python: "3.11.9", platform: "linux-aarch64" })).toMatchObject({
      python_version: "3.11",
      python_full_version: "3.11.9",
      platform_machine: "aarch64",
      sys_platform: "linux",
    });
    expect(markerEnvironment({ python: "3.13.1", platform: "osx-arm64" })).toMatchObject({
      os_name: "posix",
      sys_platform: "darwin",
      platform_system: "Darwin",
      platform_machine: "arm64",
    });
    expect(markerEnvironment({ python: "3.10", platform: "osx-64" })).toMatchObject({
      sys_platform: "darwin",
      platform_machine: "x86_64",
      python_full_version: "3.10.0",
    });
    expect(markerEnvironment({ python: "3.12.4", platform: "win-64" })).toMatchObject({
      os_name: "nt",
      sys_platform: "win32",
      platform_system: "Windows",
      platform_machine: "AMD64",
      implementation_version: "3.12.4",
    });
  });

  it("rejects a malformed Python version or an unknown platform", () => {
    expect(() => markerEnvironment({ python: "3", platform: "linux-64" })).toThrow(/3\.12 or 3\.12\.1/);
    expect(() => markerEnvironment({ python: "3.12", platform: "solaris-64" })).toThrow(/linux-64/);
  });
});
