import { preview, ResolverError, ResolverErrorCode } from "../errors";
import type { CondaRecord } from "./record";

/** Versions of the virtual packages of a target machine. */
export interface VirtualPackageOptions {
  /** glibc version of Linux targets (default 2.28). */
  glibc?: string;
  /** CUDA driver version; no `__cuda` package when absent. */
  cuda?: string;
  /** macOS version of osx targets (default 11.0). */
  osx?: string;
  /** Linux kernel version (default 5.15). */
  linux?: string;
}

const ARCH: Record<string, string> = {
  "64": "x86_64",
  "32": "x86",
  aarch64: "aarch64",
  arm64: "arm64",
  ppc64le: "ppc64le",
  s390x: "s390x",
  armv7l: "armv7l",
};

/** `__unix`, `__linux`, `__glibc`, `__osx`, `__win`, `__cuda`, `__archspec` records for a subdir. */
export function virtualPackages(subdir: string, options: VirtualPackageOptions = {}): CondaRecord[] {
  const m = /^(linux|osx|win)-([a-z0-9]+)$/.exec(subdir);
  if (!m) {
    throw new ResolverError(
      ResolverErrorCode.PLATFORM_UNKNOWN,
      `target platform must look like linux-64, osx-arm64 or win-64; received ${preview(subdir)}`,
    );
  }
  const [, os, arch] = m as unknown as [string, string, string];
  const rec = (name: string, version: string, build = "0"): CondaRecord => ({
    name,
    version,
    build,
    buildNumber: 0,
    depends: [],
    constrains: [],
    trackFeatures: [],
    timestamp: 0,
    channel: "@virtual",
    subdir,
    fn: `${name}-${version}-${build}`,
    url: `virtual:${name}`,
  });
  const out: CondaRecord[] = [];
  if (os === "linux") {
    out.push(
      rec("__unix", "0"),
      rec("__linux", options.linux ?? "5.15"),
      rec("__glibc", options.glibc ?? "2.28"),
    );
  } else if (os === "osx") {
    out.push(rec("__unix", "0"), rec("__osx", options.osx ?? "11.0"));
  } else {
    out.push(rec("__win", "0"));
  }
  if (options.cuda) out.push(rec("__cuda", options.cuda));
  out.push(rec("__archspec", "1", ARCH[arch] ?? arch));
  return out;
}
