import { request } from "node:http";

/** The local CPU base image made by scripts/make-base-image.sh (override: MLENV_BASE_IMAGE_CPU). */
export function baseImageCpu(): string {
  return process.env.MLENV_BASE_IMAGE_CPU || "mlenv/base-cpu:bookworm";
}

/** The engine address the tests use: DOCKER_HOST, else the default unix socket. */
function target(): { socketPath: string } | { host: string; port: number } | string {
  const h = process.env.DOCKER_HOST;
  if (!h) return { socketPath: "/var/run/docker.sock" };
  if (h.startsWith("unix://")) return { socketPath: h.slice("unix://".length) };
  if (h.startsWith("tcp://")) {
    const u = new URL(h.replace(/^tcp:/, "http:"));
    return { host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(u.port || 2375) };
  }
  return `unsupported DOCKER_HOST ${JSON.stringify(h)}`;
}

function get(path: string): Promise<{ status: number; body: string }> {
  const t = target();
  if (typeof t === "string") return Promise.reject(new Error(t));
  return new Promise((resolve, reject) => {
    const req = request({ ...t, method: "GET", path, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timed out after 5 s")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Why Docker-backed tests cannot run here, or null when they can: a Docker engine answers at
 * DOCKER_HOST (default unix:///var/run/docker.sock) and, unless `needBaseImage` is false, the
 * local base image exists. Use as `describe.skipIf(skipWithout("docker", await dockerAvailable()))`.
 */
export async function dockerAvailable(options: { needBaseImage?: boolean } = {}): Promise<string | null> {
  const where = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
  try {
    const ping = await get("/_ping");
    if (ping.status !== 200) return `the Docker engine at ${where} answered ${ping.status} to /_ping`;
  } catch (e) {
    return `no Docker engine answering at ${where} (${(e as Error).message}); run .ci/provision-docker.sh as root`;
  }
  if (options.needBaseImage === false) return null;
  const image = baseImageCpu();
  const inspect = await get(`/images/${image.split("/").map(encodeURIComponent).join("/")}/json`).catch(
    (e: Error) => ({ status: 0, body: e.message }),
  );
  if (inspect.status !== 200) {
    return `base image ${image} is missing from the engine (${inspect.status}); run scripts/make-base-image.sh as root`;
  }
  return null;
}
