import type { RegistryAuth } from "./client";
import { cut, DockerError, DockerErrorCode } from "./errors";

/** How to reach a container registry's HTTP API (v2). */
export interface RegistryTarget {
  /** `host[:port]`, e.g. `127.0.0.1:5000`. */
  address: string;
  /** Use plain http. Default: true for loopback addresses (127.x, ::1, localhost), else false. */
  insecure?: boolean;
  auth?: RegistryAuth;
}

const MANIFEST_TYPES = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");

const ADDRESS = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?$/;
const PATH = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export function registryBaseUrl(target: RegistryTarget): string {
  if (!ADDRESS.test(target.address)) {
    throw new DockerError(
      DockerErrorCode.REFERENCE_INVALID,
      `expected a registry address like "127.0.0.1:5000" or "registry.example.com"; received ${cut(target.address)}`,
    );
  }
  const host = target.address.replace(/:[0-9]+$/, "");
  const loopback = host === "localhost" || host.startsWith("127.") || host === "[::1]";
  const insecure = target.insecure ?? loopback;
  return `${insecure ? "http" : "https"}://${target.address}`;
}

/**
 * The digest of `path:tag` in the registry (from `Docker-Content-Digest` of a manifest HEAD), or
 * null when the registry has no such manifest. Supports anonymous, basic and bearer-token auth.
 */
export async function registryManifestDigest(
  target: RegistryTarget,
  path: string,
  tag: string,
  options: { signal?: AbortSignal } = {},
): Promise<string | null> {
  if (!PATH.test(path) || !TAG.test(tag)) {
    throw new DockerError(
      DockerErrorCode.REFERENCE_INVALID,
      `expected a repository path and tag like "mlenv/env_0a1b" and "latest"; received ${cut(`${path}:${tag}`)}`,
    );
  }
  const url = `${registryBaseUrl(target)}/v2/${path}/manifests/${tag}`;
  const head = (authorization?: string) =>
    fetch(url, {
      method: "HEAD",
      headers: { accept: MANIFEST_TYPES, ...(authorization ? { authorization } : {}) },
      ...(options.signal ? { signal: options.signal } : {}),
    });
  let res: Response;
  try {
    res = await head(target.auth ? basic(target.auth) : undefined);
    if (res.status === 401 && target.auth) {
      const token = await bearerToken(res.headers.get("www-authenticate"), target.auth, options.signal);
      if (token) res = await head(`Bearer ${token}`);
    }
  } catch (cause) {
    if (cause instanceof DockerError) throw cause;
    throw new DockerError(DockerErrorCode.UNREACHABLE, `could not reach the registry at ${target.address}`, {
      cause,
    });
  }
  if (res.status === 404) return null;
  if (res.status !== 200) {
    throw new DockerError(
      DockerErrorCode.API,
      `registry ${target.address} answered ${res.status} for the manifest of ${path}:${tag}`,
      { status: res.status },
    );
  }
  return res.headers.get("docker-content-digest");
}

function basic(auth: RegistryAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`, "utf8").toString("base64")}`;
}

/** Follow a `WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge. */
async function bearerToken(
  challenge: string | null,
  auth: RegistryAuth,
  signal: AbortSignal | undefined,
): Promise<string | null> {
  if (!challenge?.toLowerCase().startsWith("bearer ")) return null;
  const params: Record<string, string> = {};
  for (const m of challenge.slice(7).matchAll(/(\w+)="([^"]*)"/g)) params[m[1] as string] = m[2] as string;
  if (!params.realm || !/^https?:\/\//.test(params.realm)) return null;
  const u = new URL(params.realm);
  if (params.service) u.searchParams.set("service", params.service);
  if (params.scope) u.searchParams.set("scope", params.scope);
  const res = await fetch(u, { headers: { authorization: basic(auth) }, ...(signal ? { signal } : {}) });
  if (!res.ok) return null;
  const body = (await res.json()) as { token?: unknown; access_token?: unknown };
  const token = typeof body.token === "string" ? body.token : body.access_token;
  return typeof token === "string" ? token : null;
}
