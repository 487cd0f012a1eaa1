import type { EnvironmentDefinition, Lock } from "@mlenv/core";
import type { ImageBuilder } from "../builds/builder";
import type { DockerClient } from "../docker/client";

/** Emits the complete new lines of a growing text (the container's log so far) once each. */
export class LineTail {
  #seen = 0;
  #partial = "";
  constructor(private readonly emit: (line: string) => void) {}
  update(all: string, final = false): void {
    const fresh = this.#partial + all.slice(this.#seen);
    this.#seen = all.length;
    const lines = fresh.split("\n");
    this.#partial = lines.pop() ?? "";
    for (const l of lines) this.emit(l.replace(/\r$/, ""));
    if (final && this.#partial) {
      this.emit(this.#partial);
      this.#partial = "";
    }
  }
}

/** Where the run's callback socket is mounted inside a container. */
export const CONTAINER_CALLBACK_SOCKET = "/run/mlenv/callback.sock";

/**
 * Run a script in a container of the environment's built image: the builder builds (or reuses)
 * the image by its key, the container's entry fetches the source from the run's callback (the
 * server's unix socket, mounted alone into the container), and its output is polled into the log
 * until it exits. The container has no network (`NetworkMode: none`, only its own loopback)
 * unless the run asked for it, then the host's.
 */
export async function dockerRun(options: {
  builder: ImageBuilder;
  client: DockerClient;
  definition: EnvironmentDefinition;
  lock: Lock | null;
  /** The run's workspace: its private wheels and secrets reach the image build. */
  workspaceId: string;
  script: string;
  arguments: string[];
  /** GPU indices handed to the container (Engine API device requests); none when empty. */
  gpuDeviceIds?: number[];
  /** Host paths bind-mounted into the container (datastore inputs), besides the callback socket. */
  mounts?: { source: string; target: string; readOnly: boolean }[];
  /** Host networking instead of none. */
  network?: boolean;
  /** The host path of the run callback's unix socket (mounted at CONTAINER_CALLBACK_SOCKET). */
  callbackSocket: string;
  env: Record<string, string>;
  /** The source of mlenv_docker_entry.py, passed as `python -c`. */
  entrySource: string;
  log: (stream: "stdout" | "stderr" | "system", text: string) => void;
  onContainer: (id: string) => Promise<void>;
  canceled: () => boolean;
  /** Labels of the container besides `mlenv.run`. */
  labels?: Record<string, string>;
}): Promise<{ exitCode: number }> {
  const system = (t: string) => options.log("system", t);
  system("building or reusing the environment's image");
  const built = await options.builder.build({
    definition: options.definition,
    ...(options.lock ? { lock: options.lock } : {}),
    workspaceId: options.workspaceId,
    onLog: (l) => system(`build: ${l.text}`),
  });
  system(`image ${built.image}${built.cacheHit ? " (cached)" : ""}`);
  if (options.canceled()) return { exitCode: 130 };
  const python = options.definition.python.userManagedDependencies
    ? options.definition.python.interpreterPath
    : "python";
  const id = await options.client.createContainer({
    image: built.image,
    cmd: [python, "-c", options.entrySource, options.script, ...options.arguments],
    env: { ...options.env, MLENV_RUN_CALLBACK: `unix:${CONTAINER_CALLBACK_SOCKET}` },
    labels: { ...options.labels, "mlenv.run": options.env.MLENV_RUN_ID ?? "" },
    network: options.network ? "host" : "none",
    mounts: [
      { source: options.callbackSocket, target: CONTAINER_CALLBACK_SOCKET },
      ...(options.mounts ?? []),
    ],
    ...(options.gpuDeviceIds?.length ? { gpuDeviceIds: options.gpuDeviceIds } : {}),
  });
  try {
    await options.onContainer(id);
    await options.client.startContainer(id);
    system(
      `running in container ${id.slice(0, 12)} (${options.network ? "host network, as the run asked" : "no network"})`,
    );
    const out = new LineTail((t) => options.log("stdout", t));
    const err = new LineTail((t) => options.log("stderr", t));
    let exitCode: number | null = null;
    const waiting = options.client.waitContainer(id).then(
      (code) => {
        exitCode = code;
      },
      () => {
        exitCode = 137; // removed (canceled) while waiting
      },
    );
    while (exitCode === null) {
      await Promise.race([waiting, new Promise((r) => setTimeout(r, 300))]);
      const logs = await options.client.containerLogs(id).catch(() => null);
      if (logs) {
        out.update(logs.stdout);
        err.update(logs.stderr);
      }
    }
    const logs = await options.client.containerLogs(id).catch(() => null);
    if (logs) {
      out.update(logs.stdout, true);
      err.update(logs.stderr, true);
    }
    return { exitCode };
  } finally {
    await options.client.removeContainer(id).catch(() => false);
  }
}
