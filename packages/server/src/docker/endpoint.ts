import { cut, DockerError, DockerErrorCode } from "./errors";

/** Where the Docker engine listens: a unix socket or a plain TCP address. */
export type DockerEndpoint =
  | { kind: "unix"; socketPath: string }
  | { kind: "tcp"; host: string; port: number };

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/**
 * Parse a `DOCKER_HOST` value (`unix:///var/run/docker.sock`, `tcp://127.0.0.1:2375`). Undefined or
 * empty means the default socket. TLS (`DOCKER_TLS_VERIFY`) is not supported: reach a remote engine
 * through an SSH tunnel or a TCP address on a trusted network.
 */
export function parseDockerHost(value: string | undefined): DockerEndpoint {
  if (value === undefined || value.trim() === "") return { kind: "unix", socketPath: DEFAULT_DOCKER_SOCKET };
  const v = value.trim();
  if (v.includes("\0") || v.includes("\n")) {
    throw invalid(value, "control characters are not allowed");
  }
  if (v.startsWith("unix://")) {
    const socketPath = v.slice("unix://".length);
    if (!socketPath.startsWith("/")) throw invalid(value, "a unix socket path must be absolute");
    return { kind: "unix", socketPath };
  }
  if (v.startsWith("tcp://") || v.startsWith("http://")) {
    let url: URL;
    try {
      url = new URL(v.replace(/^tcp:/, "http:"));
    } catch (cause) {
      throw invalid(value, "not a valid address", cause);
    }
    if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.username) {
      throw invalid(value, "only host and port are allowed");
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    return { kind: "tcp", host, port: url.port ? Number(url.port) : 2375 };
  }
  throw invalid(value, "unsupported scheme");
}

function invalid(received: string, why: string, cause?: unknown): DockerError {
  return new DockerError(
    DockerErrorCode.HOST_INVALID,
    `DOCKER_HOST must be unix:///absolute/path or tcp://host:port (e.g. unix:///var/run/docker.sock); ${why}; received ${cut(received)}`,
    cause === undefined ? {} : { cause },
  );
}

/** A human-readable form of an endpoint for messages. */
export function describeEndpoint(endpoint: DockerEndpoint): string {
  return endpoint.kind === "unix"
    ? `unix://${endpoint.socketPath}`
    : `tcp://${endpoint.host}:${endpoint.port}`;
}
