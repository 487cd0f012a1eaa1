import { type CoreConfig, defaultCoreConfig } from "@mlenv/core";
import type { Hono } from "hono";
import { DockerClient, type RegistryTarget } from "../docker/index";
import type { Logger } from "../logger";
import type { Store } from "../store/types";
import type { WheelSupport } from "../wheels/support";
import { coreRenderer, ImageBuilder } from "./builder";
import { BuildQueue } from "./buildQueue";
import { type BuildJobStore, openBuildJobStore } from "./jobStore";
import { BuildSecretBroker, wheelPipSecrets } from "./pipSecrets";
import { catalogPrivateInputs } from "./privateInputs";
import { workspaceRegistryAuth } from "./registryAuth";
import { buildRoutes } from "./routes";

/** Image-build settings of a server; each falls back to an environment variable, then a default. */
export interface BuildSupportOptions {
  /** Default CPU base image (env `MLENV_BASE_IMAGE_CPU`, else core's default). */
  baseImageCpu?: string | undefined;
  /** Default GPU base image (env `MLENV_BASE_IMAGE_GPU`, else core's default). */
  baseImageGpu?: string | undefined;
  /**
   * The conda-compatible executable of the base images; `null` (env `MLENV_CONDA_EXECUTABLE=none`)
   * for base images without conda, where environments are a venv + pip (env, else core's default).
   */
  condaExecutable?: string | null | undefined;
  /** Container registry `host[:port]` images are pushed to (env `MLENV_REGISTRY`); none keeps images local. */
  registry?: string | RegistryTarget | undefined;
  /** Docker engine address (env `DOCKER_HOST`, else unix:///var/run/docker.sock). */
  dockerHost?: string | undefined;
  /** Builds at once in this process (env `MLENV_BUILD_CONCURRENCY`, default 2). */
  concurrency?: number | undefined;
  /** A build running longer fails, log kept (env `MLENV_BUILD_TIMEOUT_SECONDS`, default 30 min). */
  timeoutMs?: number | undefined;
  /** Queue poll interval (default 1000 ms; tests lower it). */
  pollMs?: number | undefined;
}

/** Everything image builds need in a server process. */
export interface BuildSupport {
  config: CoreConfig;
  docker: DockerClient;
  builder: ImageBuilder;
  queue: BuildQueue;
  /** The job store the queue uses (read by GET /metrics). */
  jobs: BuildJobStore;
  broker: BuildSecretBroker;
  routes: Hono;
  /** The server's own URL (signed wheel URLs and one-time pip payloads point at it). */
  setBaseUrl(url: string): void;
  /** Recover jobs of an earlier process and start building. */
  start(): Promise<void>;
  /** Stop building (running builds are failed as interrupted) and close the job store. */
  close(): Promise<void>;
}

function positive(name: string, value: number | undefined, raw: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(
      `Expected ${name} to be a positive whole number, e.g. 2; received ${String(raw ?? value).slice(0, 200)}`,
    );
  }
  return value;
}

/**
 * The core configuration a server uses both to parse definitions and to build them: core's
 * defaults with the base images and conda executable of the options / environment.
 */
export function serverCoreConfig(
  options: Pick<BuildSupportOptions, "baseImageCpu" | "baseImageGpu" | "condaExecutable"> = {},
  env: Record<string, string | undefined> = process.env,
): { config: CoreConfig; condaExecutable: string | null } {
  const cpu = options.baseImageCpu ?? (env.MLENV_BASE_IMAGE_CPU || defaultCoreConfig.baseImages.cpu);
  const gpu = options.baseImageGpu ?? (env.MLENV_BASE_IMAGE_GPU || defaultCoreConfig.baseImages.gpu);
  const fromEnv = env.MLENV_CONDA_EXECUTABLE;
  const conda =
    options.condaExecutable !== undefined
      ? options.condaExecutable
      : fromEnv === "none"
        ? null
        : fromEnv || defaultCoreConfig.condaExecutable;
  for (const [what, v] of [
    ["MLENV_BASE_IMAGE_CPU", cpu],
    ["MLENV_BASE_IMAGE_GPU", gpu],
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
    },
    condaExecutable: conda,
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
  store: Store;
  wheels?: WheelSupport | undefined;
  logger?: Logger | undefined;
  builds?: BuildSupportOptions | undefined;
  env?: Record<string, string | undefined>;
}): BuildSupport {
  const env = options.env ?? process.env;
  const b = options.builds ?? {};
  const { config: coreConfig, condaExecutable: condaExecutableOrNull } = serverCoreConfig(b, env);
  const docker = new DockerClient({
    ...((b.dockerHost ?? env.DOCKER_HOST) ? { host: b.dockerHost ?? env.DOCKER_HOST } : {}),
  });
  const registryOption = b.registry ?? (env.MLENV_REGISTRY || undefined);
  const registry: RegistryTarget | null =
    registryOption === undefined
      ? null
      : typeof registryOption === "string"
        ? { address: registryOption }
        : registryOption;
  const concurrency = positive(
    "MLENV_BUILD_CONCURRENCY",
    b.concurrency ?? (env.MLENV_BUILD_CONCURRENCY ? Number(env.MLENV_BUILD_CONCURRENCY) : undefined),
    env.MLENV_BUILD_CONCURRENCY,
  );
  const timeoutSeconds = env.MLENV_BUILD_TIMEOUT_SECONDS;
  const timeoutMs = positive(
    "MLENV_BUILD_TIMEOUT_SECONDS",
    b.timeoutMs ?? (timeoutSeconds ? Number(timeoutSeconds) * 1000 : undefined),
    timeoutSeconds,
  );
  let baseUrl = "http://127.0.0.1";
  const broker = new BuildSecretBroker();
  const builder = new ImageBuilder({
    docker,
    registry,
    config: coreConfig,
    render: coreRenderer({ condaExecutable: condaExecutableOrNull }),
    // without conda the base image's python3 is the environment's Python: asking for another is refused
    basePythonOnly: condaExecutableOrNull === null,
    ...(timeoutMs ? { buildTimeoutMs: timeoutMs } : {}),
    // images built from a workspace's wheels or secrets are keyed with that workspace
    privateInputs: catalogPrivateInputs(options.wheels?.catalog ?? { get: async () => null }),
    ...(options.wheels
      ? {
          pipSecrets: {
            source: wheelPipSecrets({ store: options.store, wheels: options.wheels, baseUrl: () => baseUrl }),
            broker,
          },
          baseImageAuth: workspaceRegistryAuth(options.wheels.catalog),
        }
      : {}),
  });
  const jobs = openBuildJobStore(
    options.database ? { postgresUrl: options.database } : { sqliteFile: `${options.dataDir}/mlenv.db` },
  );
  const queue = new BuildQueue({
    jobs,
    builder,
    ...(concurrency ? { concurrency } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(b.pollMs ? { pollMs: b.pollMs } : {}),
    // several servers may share a PostgreSQL database: only heartbeats tell a dead one
    exclusive: !options.database,
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
