import { join } from "node:path";
import type { CoreConfig } from "@mlenv/core";
import type { BlobStore } from "../blobs/blobStore";
import type { ImageBuilder } from "../builds/builder";
import { catalogPrivateInputs } from "../builds/privateInputs";
import { computeRoutes } from "../compute/routes";
import { ComputeService } from "../compute/service";
import { ClusterRuns } from "../compute/slurmRuns";
import { openComputeStore } from "../compute/store";
import type { DockerClient } from "../docker/client";
import { Registry } from "../environments/registry";
import type { ServerFeature } from "../feature";
import { Gpus } from "../gpus/gpus";
import type { Logger } from "../logger";
import { modelRoutes } from "../models/routes";
import { serviceRoutes } from "../services/routes";
import { ServiceManager } from "../services/serviceManager";
import { type Database, sharedDatabase } from "../store/database";
import type { Store } from "../store/types";
import { resolveWheelReferences, secretEnvironment } from "../wheels/resolve";
import type { WheelSupport } from "../wheels/support";
import { Confinement, LOCAL_TARGET_POLICIES, type LocalTargetPolicy } from "./confinement";
import type { LocalSandbox } from "./localSandbox";
import { ownerLabels, ProcessRegistry, sweepContainers } from "./orphans";
import { runRoutes } from "./routes";
import { pythonHelperDir, RunManager } from "./runManager";
import { openRunStore, type RunStore } from "./runStore";
import { DEFAULT_MAX_SNAPSHOT_BYTES } from "./snapshot";
import { VenvCache } from "./venv";

export interface RunSupportOptions {
  dataDir: string;
  /** The PostgreSQL URL the store uses; otherwise SQLite at `<dataDir>/mlenv.db`. */
  database?: string | undefined;
  /** The process's database handle (shared by every store); absent: opened from `database`/`dataDir`. */
  db?: Database | undefined;
  store: Store;
  blobs: BlobStore;
  logger: Logger;
  wheels?: WheelSupport | undefined;
  /** Largest source snapshot (default 25 MiB). */
  maxSnapshotBytes?: number | undefined;
  /**
   * How often this process renews its hold on the services it runs (default 5000 ms); after
   * three missed renewals another server
   * process on the same database takes them over.
   */
  serviceHeartbeatMs?: number | undefined;
  /** Base interpreter of venvs (default `python3`). */
  python?: string | undefined;
  /** The server's core configuration (base images), as image builds use it; core's defaults otherwise. */
  config?: CoreConfig | undefined;
  /** Enables the docker target: environment images from this builder, runs in host-network containers. */
  docker?: { builder: ImageBuilder; client: DockerClient } | undefined;
  /** How often runs on compute targets (Slurm) are polled (default 2000 ms). */
  clusterPollMs?: number | undefined;
  /** The blob store root when it is not `<dataDir>/blobs` (hidden from user code too). */
  blobDir?: string | undefined;
  /**
   * The local target: `confined` (default: user code confined, or the target refused on a server
   * with several workspaces when it cannot be), `unconfined` (an admin accepts unconfined user
   * code), `off`.
   */
  localTarget?: LocalTargetPolicy | undefined;
  /** bubblewrap for non-root servers: a path, or null never to use it (default `bwrap` on PATH). */
  bwrap?: string | null | undefined;
  /** This machine's GPUs (default: read with `nvidia-smi -L` at start; none without a driver). */
  gpus?: Gpus | undefined;
}

/**
 * Runs, models and local web services of one server process. `start()` fails runs a previous
 * process lost and restarts live services; `close()` stops active runs and service workers.
 */
export interface RunSupport extends ServerFeature {
  runs: RunManager;
  /** Runs on compute targets (Slurm): submission and the poller. */
  cluster: ClusterRuns;
  /** Compute targets and datastores of workspaces. */
  compute: ComputeService;
  gpus: Gpus;
  services: ServiceManager;
  runStore: RunStore;
}

/** `value` when it is a whole number of at least `min`; otherwise an error saying what was `expected`. */
function wholeNumber(value: number, min: number, expected: string): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`Expected ${expected}; received ${String(value).slice(0, 200)}`);
  }
  return value;
}

/** Wire runs and services on the store's (migrated) database under `<dataDir>/{venvs,work}`. */
export function openRunSupport(options: RunSupportOptions): RunSupport {
  const runStore = openRunStore(sharedDatabase(options));
  // the server's configuration: default definitions (runs without an environment) get its base images
  const registry = new Registry({
    store: options.store,
    blobs: options.blobs,
    privateInputs: catalogPrivateInputs(options.wheels?.catalog ?? { get: async () => null }),
    ...(options.config ? { config: options.config } : {}),
  });
  const python = options.python ?? "python3";
  const localTarget = options.localTarget ?? "confined";
  if (!LOCAL_TARGET_POLICIES.includes(localTarget)) {
    throw new Error(
      `Expected the local target (MLENV_LOCAL_TARGET) to be one of ${LOCAL_TARGET_POLICIES.join(", ")} (e.g. confined); received ${String(localTarget).slice(0, 200)}`,
    );
  }
  const confinement = new Confinement({
    dataDir: options.dataDir,
    blobDir: options.blobDir,
    policy: localTarget,
    bwrap: options.bwrap,
    helperDir: pythonHelperDir(),
  });
  const processes = new ProcessRegistry(options.dataDir);
  const sandbox: LocalSandbox = {
    confinement,
    processes,
    checkLocalAllowed: () =>
      confinement.checkLocalAllowed(async () => (await options.store.listWorkspaces()).length),
  };
  const containerLabels = ownerLabels(options.dataDir, processes.me);
  const venvs = new VenvCache({
    root: join(options.dataDir, "venvs"),
    python,
    confinement,
    cuda: async () => (await gpus.refresh()).cuda,
  });
  let baseUrl = "http://127.0.0.1";
  const wheels = options.wheels;
  const preparePip = wheels
    ? async (workspaceId: string, lines: string[]) => {
        const ws = (await options.store.listWorkspaces()).find((w) => w.id === workspaceId);
        if (!ws) return { lines, env: {} };
        const resolved = await resolveWheelReferences(lines, {
          catalog: wheels.catalog,
          signer: wheels.signer,
          workspace: { id: ws.id, name: ws.name },
          baseUrl,
          ttlSeconds: 3600,
        });
        return {
          lines: resolved,
          env: await secretEnvironment(lines, { catalog: wheels.catalog, workspaceId }),
        };
      }
    : undefined;
  const maxSnapshotBytes = wholeNumber(
    options.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES,
    1,
    "maxSnapshotBytes (MLENV_MAX_SNAPSHOT_BYTES) to be a positive whole number of bytes (e.g. 26214400)",
  );
  const serviceHeartbeatMs = wholeNumber(
    options.serviceHeartbeatMs ?? 5_000,
    50,
    "serviceHeartbeatMs (MLENV_SERVICE_HEARTBEAT_MS) to be a whole number of milliseconds of at least 50 (e.g. 5000)",
  );
  const clusterPollMs = wholeNumber(
    options.clusterPollMs ?? 2000,
    50,
    "clusterPollMs (MLENV_CLUSTER_POLL_MS) to be a whole number of milliseconds of at least 50 (e.g. 2000)",
  );
  const computeStore = openComputeStore(sharedDatabase(options));
  const compute = new ComputeService({
    store: computeStore,
    blobs: options.blobs,
    secrets: options.wheels?.catalog,
    dataCacheDir: join(options.dataDir, "datastores"),
    containers: options.docker ? ["docker"] : [],
  });
  const cluster = new ClusterRuns({
    service: compute,
    runStore,
    blobs: options.blobs,
    logger: options.logger,
    pollMs: clusterPollMs,
    ...(preparePip ? { preparePip } : {}),
    ...(options.docker ? { builder: options.docker.builder } : {}),
  });
  const gpus =
    options.gpus ?? new Gpus({ devices: [], cuda: null, cudaSource: "none", reason: "not read yet" });
  const common = {
    gpus,
    store: runStore,
    blobs: options.blobs,
    registry,
    venvs,
    logger: options.logger,
    sandbox,
    containerLabels,
    ...(preparePip ? { preparePip } : {}),
  };
  const runs = new RunManager({
    ...common,
    workDir: join(options.dataDir, "work", "runs"),
    ...(options.docker ? { docker: options.docker } : {}),
    compute: { service: compute, cluster },
  });
  const services = new ServiceManager({
    ...common,
    workDir: join(options.dataDir, "work", "services"),
    heartbeatMs: serviceHeartbeatMs,
    ...(options.docker ? { docker: options.docker } : {}),
  });
  const routeDeps = {
    store: options.store,
    blobs: options.blobs,
    runs,
    services,
    logger: options.logger,
    maxSnapshotBytes,
    gpus,
  };
  const routes = runRoutes(routeDeps);
  routes.route("/", modelRoutes(routeDeps));
  routes.route("/", serviceRoutes(routeDeps));
  routes.route(
    "/",
    computeRoutes({ service: compute, logger: options.logger, maxUploadBytes: maxSnapshotBytes }),
  );
  return {
    runs,
    cluster,
    compute,
    gpus,
    services,
    runStore,
    routes,
    setBaseUrl: (url) => {
      baseUrl = url;
    },
    async start() {
      if (confinement.confined) {
        options.logger.info("local target confined", { mode: confinement.mode });
      } else {
        options.logger.warn("local target NOT confined", {
          reason: confinement.reason,
          policy: confinement.policy,
        });
      }
      // what a crashed earlier process left running: its user code, its containers
      const killed = await processes.sweep();
      const removed = options.docker
        ? await sweepContainers(options.docker.client, options.dataDir, processes.me).catch((e) => {
            options.logger.warn("could not look for orphaned containers", { error: String(e).slice(0, 200) });
            return 0;
          })
        : 0;
      if (killed || removed) {
        options.logger.warn("stopped what a crashed server process left running", {
          processes: killed,
          containers: removed,
        });
      }
      if (!options.gpus) await gpus.refresh();
      await runs.start();
      await services.start();
      cluster.start();
    },
    async close() {
      await Promise.all([runs.close(), services.close(), cluster.close()]);
      await runStore.close();
      await computeStore.close();
    },
  };
}
