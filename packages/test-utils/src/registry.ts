import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { freePort } from "./freePort";
import { makeTempDir } from "./tempDir";

/** A running Debian `docker-registry` (distribution v2) on 127.0.0.1 with its own storage. */
export interface LocalRegistry {
  /** `127.0.0.1:<port>`: the registry host part of image references. */
  address: string;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Stop the registry and delete its storage. */
  stop: () => Promise<void>;
}

const BINARY = process.env.MLENV_DOCKER_REGISTRY_BIN || "docker-registry";

/** Why a local registry cannot start here, or null when Debian's docker-registry is installed. */
export function registryAvailable(): string | null {
  const r = spawnSync(BINARY, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (r.error || r.status !== 0) {
    return `${BINARY} is not runnable (${r.error?.message ?? r.stderr.trim()}); apt-get install docker-registry`;
  }
  return null;
}

async function waitUntilUp(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`docker-registry exited with ${child.exitCode}: ${output()}`);
    try {
      const res = await fetch(`${url}/v2/`);
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer at ${url}/v2/ within 15 s: ${output()}`);
}

export interface StartRegistryOptions {
  /** Require these credentials (htpasswd basic auth, bcrypt); default: anonymous access. */
  auth?: { username: string; password: string };
}

/** Start a registry on 127.0.0.1:<random port> with a temporary config and storage directory. */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<LocalRegistry> {
  const dir = makeTempDir("mlenv-registry-");
  const storage = join(dir.path, "storage");
  const authLines: string[] = [];
  if (options.auth) {
    if (!/^[A-Za-z0-9._-]+$/.test(options.auth.username))
      throw new Error("registry user names are [A-Za-z0-9._-]+");
    const htpasswd = join(dir.path, "htpasswd");
    writeFileSync(htpasswd, `${options.auth.username}:${bcrypt.hashSync(options.auth.password, 10)}\n`, {
      mode: 0o600,
    });
    authLines.push("auth:", "  htpasswd:", "    realm: mlenv-test", `    path: ${JSON.stringify(htpasswd)}`);
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = join(dir.path, "config.yml");
    writeFileSync(
      config,
      [
        "version: 0.1",
        "log:",
        "  level: warn",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${JSON.stringify(storage)}`,
        "  delete:",
        "    enabled: true",
        "http:",
        `  addr: 127.0.0.1:${port}`,
        ...authLines,
        "",
      ].join("\n"),
    );
    const child = spawn(BINARY, ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (c: Buffer) => {
      output = (output + c.toString("utf8")).slice(-4000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilUp(url, child, () => output);
    } catch (e) {
      lastError = e;
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
      continue;
    }
    return {
      address: `127.0.0.1:${port}`,
      url,
      stop: async () => {
        if (child.exitCode === null) {
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
          await exited;
          clearTimeout(timer);
        }
        dir.cleanup();
      },
    };
  }
  dir.cleanup();
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
