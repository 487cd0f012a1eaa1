import { join } from "node:path";
import { type CoreConfig, defaultCoreConfig } from "@mlenv/core";
import { DockerClient, type RegistryTarget } from "../docker/index";
import type { ServerFeature } from "../feature";
import type { Logger } from "../logger";
import { type Database, sharedDatabase } from "../store/database";
import type { Store } from "../store/types";
import type { WheelSupport } from "../wheels/support";
import { coreRenderer, ImageBuilder } from "./builder";
import { BuildQueue } from "./buildQueue";
import { type BuildJobStore, openBuildJobStore } from "./jobStore";
import { BuildSecretBroker, wheelPipSecrets } from "./pipSecrets";
import { catalogPrivateInputs } from "./privateInputs";
import { workspaceRegistryAuth } from "./registryAuth";
import { buildRoutes } from "./routes";

/** Image-build settings of a server (`mlenv server start` reads them with `loadServerSettings`). */
export interface BuildSupportOptions {
  /** Default CPU base image (core's default when absent). */
  baseImageCpu?: string | undefined;
  /** Default GPU base image (core's default when absent). */
  baseImageGpu?: string | undefined;
  /**
   * How images get their conda environment. Absent (the default): mlenv installs the locked conda
   * packages itself (`@mlenv/conda-installer`, on this machine) and copies the prefix into a
   * plain glibc base image, conda and pip packages in separate layers; the default base images
   * are then plain slim ones. A name (`micromamba`, `mamba`, `conda`): the base images have that
   * executable and create the environment in the build (core's micromamba images by default).
   * `null`: base images without conda whose `python3` makes a venv + pip.
   */
  condaExecutable?: string | null | undefined;
  /** Container registry images are pushed to (`host[:port]`, or with credentials); none keeps images local. */
  registry?: string | RegistryTarget | undefined;
  /** Docker engine address (unix:///var/run/docker.sock when absent). */
  dockerHost?: string | undefined;
  /** Builds at once in this process (default 2). */
  concurrency?: number | undefined;
  /** A build running longer fails, log kept (default 30 min). */
  timeoutMs?: number | undefined;
  /** Queue poll interval (default 1000 ms; tests lower it). */
  pollMs?: number | undefined;
  /** How often running builds' heartbeats are renewed (default 5000 ms). */
  heartbeatMs?: number | undefined;
  /** A running build whose heartbeat is older is failed as interrupted (default 30 s). */
  staleMs?: number | undefined;
}

/**
 * Everything image builds need in a server process. Signed wheel URLs and one-time pip payloads
 * point at the base URL; `start()` recovers jobs of an earlier process and starts building;
 * `close()` stops building (running builds are failed as interrupted) and closes the job store.
 */
export interface BuildSupport extends ServerFeature {
  config: CoreConfig;
  docker: DockerClient;
  builder: ImageBuilder;
  queue: BuildQueue;
  /** The job store the queue uses (read by GET /metrics). */
  jobs: BuildJobStore;
  broker: BuildSecretBroker;
}

/**
 * The default base images when mlenv installs the conda environment: plain glibc images without
 * conda (the conda prefix, Python included, comes from the environment's lock).
 */
export const PLAIN_BASE_IMAGES = Object.freeze({
  cpu: "debian:bookworm-slim",
  gpu: "nvidia/cuda:12.1.1-base-ubuntu22.04",
});

function positive(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(
      `Expected ${name} to be a positive whole number, e.g. 2; received ${String(value).slice(0, 200)}`,
    );
  }
  return value;
}

/**
 * The core configuration a server uses both to parse definitions and to build them: core's
 * defaults with the base images and conda executable of the options.
 */
export function serverCoreConfig(
  options: Pick<BuildSupportOptions, "baseImageCpu" | "baseImageGpu" | "condaExecutable"> = {},
): {
  config: CoreConfig;
  condaExecutable: string | null;
  /** mlenv installs conda prefixes and copies them into images (no `condaExecutable` given). */
  condaPrefix: boolean;
} {
  const condaPrefix = options.condaExecutable === undefined;
  const defaults = condaPrefix ? PLAIN_BASE_IMAGES : defaultCoreConfig.baseImages;
  const cpu = options.baseImageCpu || defaults.cpu;
  const gpu = options.baseImageGpu || defaults.gpu;
  const conda =
    options.condaExecutable === undefined ? defaultCoreConfig.condaExecutable : options.condaExecutable;
  for (const [what, v] of [
    ["baseImageCpu", cpu],
    ["baseImageGpu", gpu],
  ] as const) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$/.test(v)) {
      throw new Error(
        `Expected ${what} to be an image reference like mlenv/base-cpu:bookworm; received ${JSON.stringify(v).slice(0, 200)}`,
      );
    }
  }
  return {
    // core's config needs a string; a conda-less base image renders with condaExecutable null
    config: {
      ...defaultCoreConfig,
      baseImages: { cpu, gpu },
      condaExecutable: conda ?? defaultCoreConfig.condaExecutable,
      imageLayout: condaPrefix ? "mlenv-prefix" : conda === null ? "venv" : "conda-in-base",
    },
    condaExecutable: conda,
    condaPrefix,
  };
}

/**
 * Open image builds on the server's (migrated) database: a Docker client (no engine needs to
 * answer yet: builds fail with E_DOCKER_UNREACHABLE until one does), the builder, the persistent
 * queue, and the routes (`buildRoutes` plus the one-time pip payload route).
 */
export function openBuildSupport(options: {
  dataDir: string;
  database?: string | undefined;
  /** The process's database handle (shared by every store); absent: opened from `database`/`dataDir`. */
  db?: Database | undefined;
  store: Store;
  wheels?: WheelSupport | undefined;
  logger?: Logger | undefined;
  builds?: BuildSupportOptions | undefined;
  /**
   * Other processes may hold builds on this database (default: only with PostgreSQL): jobs of a
   * dead holder fail by heartbeat, not at start.
   */
  shared?: boolean | undefined;
  /**
   * The mlenv server's URL signed wheel URLs point at, when it is not this process (a standalone
   * worker); default: this process's URL ({@link BuildSupport.setBaseUrl}).
   */
  serverUrl?: string | undefined;
}): BuildSupport {
  const b = options.builds ?? {};
  const { config: coreConfig, condaExecutable: condaExecutableOrNull, condaPrefix } = serverCoreConfig(b);
  const docker = new DockerClient(b.dockerHost ? { host: b.dockerHost } : {});
  const registry: RegistryTarget | null =
    b.registry === undefined ? null : typeof b.registry === "string" ? { address: b.registry } : b.registry;
  const concurrency = positive("the build concurrency", b.concurrency);
  const timeoutMs = positive("the build timeout", b.timeoutMs);
  let baseUrl = "http://127.0.0.1";
  const broker = new BuildSecretBroker();
  const builder = new ImageBuilder({
    docker,
    registry,
    config: coreConfig,
    ...(condaPrefix
      ? {
          // mlenv installs the conda prefix here and copies it in: the base image needs no conda
          condaPrefix: {
            dir: join(options.dataDir, "builds", "conda-prefixes"),
            packageCache: join(options.dataDir, "pkgs"),
          },
        }
      : { render: coreRenderer({ condaExecutable: condaExecutableOrNull }) }),
    // without conda the base image's python3 is the environment's Python: asking for another is refused
    basePythonOnly: condaExecutableOrNull === null,
    ...(timeoutMs ? { buildTimeoutMs: timeoutMs } : {}),
    // images built from a workspace's wheels or secrets are keyed with that workspace
    privateInputs: catalogPrivateInputs(options.wheels?.catalog ?? { get: async () => null }),
    ...(options.wheels
      ? {
          pipSecrets: {
            source: wheelPipSecrets({
              store: options.store,
              wheels: options.wheels,
              baseUrl: () => options.serverUrl ?? baseUrl,
            }),
            broker,
          },
          baseImageAuth: workspaceRegistryAuth(options.wheels.catalog),
        }
      : {}),
  });
  const jobs = openBuildJobStore(sharedDatabase(options));
  const queue = new BuildQueue({
    jobs,
    builder,
    ...(concurrency ? { concurrency } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(b.pollMs ? { pollMs: b.pollMs } : {}),
    ...(b.heartbeatMs ? { heartbeatMs: b.heartbeatMs } : {}),
    ...(b.staleMs ? { staleMs: b.staleMs } : {}),
    // several servers may share a PostgreSQL database: only heartbeats tell a dead one
    exclusive: !(options.shared ?? options.database),
  });
  const routes = buildRoutes({
    store: options.store,
    queue,
    builder,
    config: coreConfig,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  routes.route("/", broker.routes());
  return {
    config: coreConfig,
    docker,
    builder,
    queue,
    jobs,
    broker,
    routes,
    setBaseUrl(url) {
      baseUrl = url;
      broker.setBaseUrl(url);
    },
    async start() {
      await queue.start();
      const ping = await docker.ping().then(
        () => null,
        (e: unknown) => String((e as Error).message ?? e).slice(0, 300),
      );
      if (ping) {
        options.logger?.warn("no Docker engine answers; image builds fail until one does", {
          docker: docker.address,
          error: ping,
        });
      }
    },
    async close() {
      await queue.close();
      await jobs.close();
    },
  };
}
