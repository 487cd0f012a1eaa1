import { cut, DockerError, DockerErrorCode } from "./errors";

/** An image reference split into its repository (with registry host) and tag or digest. */
export interface ImageReference {
  /** e.g. `127.0.0.1:5000/mlenv/env_ab12` or `mlenv/base-cpu`. */
  repository: string;
  tag: string | null;
  digest: string | null;
}

// Registry host (optional, with port), path components, optional tag, optional digest.
const HOST = String.raw`(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?`;
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const REFERENCE = new RegExp(
  String.raw`^((?:${HOST}/)?${COMPONENT}(?:/${COMPONENT})*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$`,
);

/** Parse and check an image reference (`repo[:tag][@sha256:...]`); anything else is refused. */
export function parseImageReference(ref: string): ImageReference {
  const m = ref.length <= 512 ? REFERENCE.exec(ref) : null;
  // A first segment is a registry host only with a dot, a port or "localhost"; otherwise it is a
  // path component and must be lowercase (Docker's own rule).
  const first = (m?.[1] ?? "").split("/")[0] as string;
  const hostLike =
    first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("[");
  if (!m || (!hostLike && first !== first.toLowerCase())) {
    throw new DockerError(
      DockerErrorCode.REFERENCE_INVALID,
      `expected an image reference like "127.0.0.1:5000/mlenv/env_0123abcd:latest" or "mlenv/base-cpu:bookworm"; received ${cut(ref)}`,
    );
  }
  return { repository: m[1] as string, tag: m[2] ?? null, digest: m[3] ?? null };
}

/** The registry host of a repository (`127.0.0.1:5000`), or null for Docker Hub names. */
export function registryHost(repository: string): string | null {
  const first = repository.split("/")[0] as string;
  if (!repository.includes("/")) return null;
  return first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("[")
    ? first
    : null;
}
