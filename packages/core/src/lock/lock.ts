import { parse, stringify } from "yaml";
import { z } from "zod";
import { CoreError, CoreErrorCode, preview } from "../errors";
import type { JsonValue } from "../hash/canonicalJson";

/** Current `mlenv.lock` format version. */
export const LOCK_VERSION = 1;

const hex = (n: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`), `expected ${n} lowercase hex digits`);
const safeUrl = z
  .string()
  .max(4096)
  .regex(
    /^(https?|file):\/\/[^\s"'`\\<>|;]+$/,
    "expected an http(s):// or file:// URL without spaces or quotes",
  );
const pkgName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/, "expected a package name like numpy or _libgcc_mutex");
const pkgVersion = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.!+*-]+$/, "expected a version like 1.26.4 or 2!1.0+local");

/** One conda package record in a lock. */
export const LockedCondaPackageSchema = z.object({
  name: pkgName,
  version: pkgVersion,
  build: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_.+-]*$/, "expected a build string like py312h1234_0"),
  buildNumber: z.number().int().min(0).optional(),
  channel: z.string().max(4096),
  subdir: z.string().regex(/^[a-z0-9_-]+$/, "expected a subdir like linux-64 or noarch"),
  url: safeUrl,
  sha256: hex(64).optional(),
  md5: hex(32).optional(),
  depends: z.array(z.string().max(1000)).default([]),
});

/** One pip distribution in a lock. */
export const LockedPipPackageSchema = z.object({
  name: pkgName,
  version: pkgVersion,
  url: safeUrl,
  sha256: hex(64),
  requires: z.array(z.string().max(1000)).default([]),
  index: z.string().max(4096).optional(),
});

export const LockedPlatformSchema = z.object({
  conda: z.array(LockedCondaPackageSchema).default([]),
  pip: z.array(LockedPipPackageSchema).default([]),
});

/** `mlenv.lock`: exact artifacts per target platform, and the definition hash they came from. */
export const LockSchema = z.object({
  $schema: z.string().optional(),
  lockVersion: z.literal(LOCK_VERSION),
  definitionHash: z.string().regex(/^[a-z0-9]+-sha256:[0-9a-f]{64}$/, "expected mlenv1-sha256:<64 hex>"),
  channels: z.array(z.string().max(4096)).default([]),
  indexes: z.array(z.string().max(4096)).default([]),
  platforms: z.record(
    z.string().regex(/^[a-z0-9_-]+$/, "expected a platform like linux-64"),
    LockedPlatformSchema,
  ),
});

export type LockedCondaPackage = z.infer<typeof LockedCondaPackageSchema>;
export type LockedPipPackage = z.infer<typeof LockedPipPackageSchema>;
export type LockedPlatform = z.infer<typeof LockedPlatformSchema>;
export type Lock = z.infer<typeof LockSchema>;

/** Validate a parsed lock document; throws CoreError E_LOCK_INVALID naming the first bad field. */
export function validateLock(value: unknown, file?: string): Lock {
  const r = LockSchema.safeParse(value);
  if (r.success) return sortLock(r.data);
  const issue = r.error.issues[0];
  const path = issue?.path.join(".") ?? "";
  let received: unknown = value;
  for (const k of issue?.path ?? [])
    received = (received as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey];
  throw new CoreError(
    CoreErrorCode.LOCK_INVALID,
    `invalid lock${file ? ` ${file}` : ""} at ${path || "(root)"}: ${issue?.message ?? "invalid"}; ` +
      `expected e.g. {lockVersion: 1, definitionHash: "mlenv1-sha256:…", platforms: {"linux-64": {conda: [...], pip: [...]}}}; received ${preview(received)}`,
    { ...(file === undefined ? {} : { file }) },
  );
}

/** Parse `mlenv.lock` YAML text. */
export function parseLock(text: string, file?: string): Lock {
  let doc: unknown;
  try {
    doc = parse(text, { intAsBigInt: false, maxAliasCount: 0 });
  } catch (cause) {
    const line = (cause as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    throw new CoreError(
      CoreErrorCode.YAML_SYNTAX,
      `lock${file ? ` ${file}` : ""} is not valid YAML${line ? ` (line ${line})` : ""}: expected a mapping like "lockVersion: 1"; received ${preview(text.slice(0, 200))}`,
      { cause, ...(file === undefined ? {} : { file }), ...(line === undefined ? {} : { line }) },
    );
  }
  return validateLock(doc, file);
}

/** Packages sorted by name (then subdir/url) so a lock serialises identically every time. */
export function sortLock(lock: Lock): Lock {
  const platforms: Record<string, LockedPlatform> = {};
  for (const p of Object.keys(lock.platforms).sort()) {
    const e = lock.platforms[p] as LockedPlatform;
    platforms[p] = {
      conda: [...e.conda].sort((a, b) => cmp(a.name, b.name) || cmp(a.url, b.url)),
      pip: [...e.pip].sort((a, b) => cmp(a.name, b.name) || cmp(a.url, b.url)),
    };
  }
  return { ...lock, platforms };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Serialise a lock as YAML (stable order). */
export function serializeLock(lock: Lock): string {
  const sorted = sortLock(validateLock(lock));
  const { $schema, ...rest } = sorted;
  const ordered = $schema === undefined ? rest : { $schema, ...rest };
  return `# mlenv.lock: generated by \`mlenv env lock\`; do not edit by hand\n${stringify(ordered, { lineWidth: 0 })}`;
}

/**
 * What the image key depends on when an environment is locked: the exact artifacts of every
 * platform (url + content hash), not the definition they came from, so two definitions that
 * lock to the same packages share an image and any changed artifact changes it.
 */
export function lockImageKeyInput(lock: Lock): JsonValue {
  const out: { [p: string]: JsonValue } = {};
  const sorted = sortLock(lock);
  for (const [p, e] of Object.entries(sorted.platforms)) {
    out[p] = {
      conda: e.conda.map((c) => ({
        name: c.name,
        version: c.version,
        build: c.build,
        url: c.url,
        sha256: c.sha256 ?? null,
        md5: c.md5 ?? null,
      })),
      pip: e.pip.map((x) => ({ name: x.name, version: x.version, url: x.url, sha256: x.sha256 })),
    };
  }
  return { lockVersion: sorted.lockVersion, platforms: out };
}
