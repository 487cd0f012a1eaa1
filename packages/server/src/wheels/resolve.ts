import type { UrlSigner } from "../signing/urlSigner";
import type { WheelCatalog } from "./catalog";
import { received, WheelError, WheelErrorCodes } from "./errors";
import { formatWheelReference, isWheelReference, parseWheelReference } from "./reference";
import { checkSecretUse } from "./secretPolicy";

/** A `mlenv+wheel://` reference turned into a short-lived signed URL. */
export interface ResolvedWheel {
  /** The reference, pinned to the bytes it resolved to. */
  reference: string;
  filename: string;
  name: string;
  sha256: string;
  url: string;
  /** `name @ <url>#sha256=<hex>`: a pip requirement line (works with --require-hashes). */
  requirement: string;
  expiresAt: string;
}

export interface ResolveOptions {
  catalog: WheelCatalog;
  signer: UrlSigner;
  /** The workspace the caller acts in; references to other workspaces are refused. */
  workspace: { id: string; name: string };
  /** Server origin the URL points at, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  ttlSeconds: number;
}

/**
 * Resolve one reference: without `#sha256=` the file's current bytes, with it exactly those bytes
 * (kept after overwrites). Throws E_WHEEL_REFERENCE_INVALID / E_WHEEL_NOT_FOUND.
 */
export async function resolveWheelReference(
  reference: string,
  options: ResolveOptions,
): Promise<ResolvedWheel> {
  const ref = parseWheelReference(reference);
  const notFound = (why: string) =>
    new WheelError(WheelErrorCodes.notFound, `Expected ${why}; reference "${received(reference)}"`, {
      details: { filename: ref.filename },
    });
  // Another workspace's reference looks exactly like a missing wheel: nothing leaks across.
  if (ref.workspace !== options.workspace.name)
    throw notFound(`a wheel of workspace "${options.workspace.name}"`);
  const w = await options.catalog.get(options.workspace.id, ref.filename);
  if (!w) throw notFound(`an uploaded wheel named "${ref.filename}"`);
  let sha256 = w.sha256;
  if (ref.sha256 && ref.sha256 !== w.sha256) {
    const revs = await options.catalog.revisions(options.workspace.id, ref.filename);
    if (!revs.some((r) => r.sha256 === ref.sha256))
      throw notFound(`an upload of "${ref.filename}" with sha256=${ref.sha256}`);
    sha256 = ref.sha256;
  }
  const { query, expires } = options.signer.signFor(
    { workspace: options.workspace.name, sha256, filename: ref.filename },
    { ttlSeconds: options.ttlSeconds },
  );
  const url = `${options.baseUrl}/pypi/${options.workspace.name}/signed/${sha256}/${ref.filename}?${query}`;
  return {
    reference: formatWheelReference({ ...ref, sha256 }),
    filename: ref.filename,
    name: w.name,
    sha256,
    url,
    requirement: `${w.name} @ ${url}#sha256=${sha256}`,
    expiresAt: new Date(expires * 1000).toISOString(),
  };
}

/** A pip block with every wheel reference replaced by its signed requirement; other lines unchanged. */
export async function resolveWheelReferences(
  lines: readonly string[],
  options: ResolveOptions,
): Promise<string[]> {
  const out: string[] = [];
  for (const line of lines)
    out.push(isWheelReference(line) ? (await resolveWheelReference(line, options)).requirement : line);
  return out;
}

/**
 * Upstream index credentials are referenced in a pip block by name, as the environment variable
 * `${MLENV_SECRET_<NAME>}` (pip expands `${VAR}` in requirements files), e.g.
 *
 *     --extra-index-url https://ci:${MLENV_SECRET_CORP_PYPI}@pypi.corp.example/simple/
 *
 * The definition, its hash, the rendered requirements file and the image hold only that name;
 * the value lives in the workspace's secrets and reaches pip only through its environment.
 */
export const SECRET_REFERENCE = /\$\{MLENV_SECRET_([A-Za-z][A-Za-z0-9_]{0,63})\}/g;

/** Names of the secrets a pip block references (sorted, unique). */
export function referencedSecrets(lines: readonly string[]): string[] {
  const names = new Set<string>();
  for (const line of lines) for (const m of line.matchAll(SECRET_REFERENCE)) names.add(m[1]!);
  return [...names].sort();
}

/**
 * The environment pip needs for a pip block's secret references: `{ MLENV_SECRET_<NAME>: value }`.
 * Throws E_WHEEL_NOT_FOUND-style error naming (never revealing) a missing secret.
 */
export async function secretEnvironment(
  lines: readonly string[],
  options: { catalog: WheelCatalog; workspaceId: string },
): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const name of referencedSecrets(lines)) {
    const value = await options.catalog.getSecret(options.workspaceId, name);
    if (value === null) {
      throw new WheelError(
        WheelErrorCodes.secretNotFound,
        `Expected a workspace secret named "${name}" (referenced as \${MLENV_SECRET_${name}}); set it with \`mlenv index secret set ${name}\``,
        { details: { secret: name } },
      );
    }
    env[`MLENV_SECRET_${name}`] = value;
  }
  // each secret goes only where an admin allowed it
  await checkSecretUse(lines, (name) => options.catalog.getSecretHosts(options.workspaceId, name));
  return env;
}
