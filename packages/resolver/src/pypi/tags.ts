import { markerEnvironment as coreMarkerEnvironment } from "@mlenv/core";
import { preview, ResolverError, ResolverErrorCode } from "../errors";

/** The Python a pip resolution targets (marker environment and wheel tags). */
export interface PythonTarget {
  /** Full version, e.g. `3.12.1` (a bare `3.12` means `3.12.0`). */
  python: string;
  /** conda-style platform: linux-64, linux-aarch64, osx-64, osx-arm64, win-64. */
  platform: string;
  /** glibc of Linux targets, for manylinux tags (default 2.28). */
  glibc?: string;
}

/** PEP 508 marker environment of a target (core's `markerEnvironment` for a conda platform). */
export function markerEnvironment(t: PythonTarget): Record<string, string> {
  const { os, arch } = splitPlatform(t.platform);
  return coreMarkerEnvironment({
    pythonVersion: fullPython(t.python),
    platform: os === "win" ? "win32" : os === "osx" ? "darwin" : "linux",
    machine: os === "win" ? (arch === "x86_64" ? "AMD64" : "ARM64") : arch,
  });
}

export function fullPython(v: string): string {
  if (!/^\d+\.\d+(\.\d+)?$/.test(v)) {
    throw new ResolverError(
      ResolverErrorCode.SPEC_INVALID,
      `python version must look like 3.12 or 3.12.1; received ${preview(v)}`,
    );
  }
  return v.split(".").length === 2 ? `${v}.0` : v;
}

function splitPlatform(platform: string): { os: "linux" | "osx" | "win"; arch: string } {
  const m = /^(linux|osx|win)-(64|aarch64|arm64|ppc64le|s390x|32)$/.exec(platform);
  if (!m) {
    throw new ResolverError(
      ResolverErrorCode.PLATFORM_UNKNOWN,
      `platform must be one of linux-64, linux-aarch64, osx-64, osx-arm64, win-64; received ${preview(platform)}`,
    );
  }
  const os = m[1] as "linux" | "osx" | "win";
  const a = m[2] as string;
  const arch = a === "64" ? "x86_64" : a === "32" ? "i686" : a === "aarch64" && os === "osx" ? "arm64" : a;
  return { os, arch };
}

/**
 * Supported wheel tags, best first (like `packaging.tags.sys_tags()` for CPython): cpXY-cpXY,
 * abi3 of older minors, none, then pyXY / py3 generic tags, each across the platform tags.
 */
export function compatibleTags(t: PythonTarget): string[] {
  const [maj, min] = fullPython(t.python).split(".").map(Number) as [number, number];
  const { os, arch } = splitPlatform(t.platform);
  const plats: string[] = [];
  if (os === "linux") {
    const [gmaj, gmin] = (t.glibc ?? "2.28").split(".").map(Number) as [number, number];
    for (let g = gmin; g >= 5; g--) {
      plats.push(`manylinux_${gmaj}_${g}_${arch}`);
      if (g === 17) plats.push(`manylinux2014_${arch}`);
      if (g === 12) plats.push(`manylinux2010_${arch}`);
      if (g === 5) plats.push(`manylinux1_${arch}`);
    }
    plats.push(`linux_${arch}`);
  } else if (os === "osx") {
    const archs = arch === "arm64" ? ["arm64", "universal2"] : ["x86_64", "intel", "universal2", "universal"];
    for (let major = 15; major >= 10; major--) {
      const minors = major === 10 ? [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4] : [0];
      for (const mi of minors) for (const a of archs) plats.push(`macosx_${major}_${mi}_${a}`);
    }
  } else {
    plats.push(arch === "x86_64" ? "win_amd64" : "win_arm64");
  }
  const cp = `cp${maj}${min}`;
  const out: string[] = [];
  for (const p of plats) out.push(`${cp}-${cp}-${p}`);
  for (const p of plats) out.push(`${cp}-abi3-${p}`);
  for (const p of plats) out.push(`${cp}-none-${p}`);
  for (let m = min - 1; m >= 2; m--) for (const p of plats) out.push(`cp${maj}${m}-abi3-${p}`);
  for (const p of plats) out.push(`py${maj}${min}-none-${p}`, `py${maj}-none-${p}`);
  for (let m = min - 1; m >= 0; m--) for (const p of plats) out.push(`py${maj}${m}-none-${p}`);
  out.push(`${cp}-none-any`, `py${maj}${min}-none-any`, `py${maj}-none-any`);
  for (let m = min - 1; m >= 0; m--) out.push(`py${maj}${m}-none-any`);
  return out;
}

export interface WheelName {
  name: string;
  version: string;
  build?: string;
  /** Expanded tag triples (`py2.py3-none-any` → two). */
  tags: string[];
}

/** Parse a PEP 427 wheel file name, or null when it is not one. */
export function parseWheelFilename(filename: string): WheelName | null {
  if (!filename.endsWith(".whl")) return null;
  const parts = filename.slice(0, -4).split("-");
  if (parts.length !== 5 && parts.length !== 6) return null;
  const [name, version] = parts as [string, string];
  const [py, abi, plat] = parts.slice(-3) as [string, string, string];
  const tags: string[] = [];
  for (const a of py.split("."))
    for (const b of abi.split(".")) for (const c of plat.split(".")) tags.push(`${a}-${b}-${c}`);
  const out: WheelName = { name, version, tags };
  if (parts.length === 6) out.build = parts[2] as string;
  return out;
}

/** `name-version` of an sdist file name (`.tar.gz`, `.zip`), or null. */
export function parseSdistFilename(filename: string): { name: string; version: string } | null {
  const m = /^(.+)-([^-]+)\.(tar\.gz|zip|tar\.bz2|tgz)$/.exec(filename);
  return m ? { name: m[1] as string, version: m[2] as string } : null;
}
