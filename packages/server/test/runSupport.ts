/**
 * Run support on a fresh store for a test file: a temp data dir, a bootstrapped registry, the run,
 * service and compute managers (with the docker target when asked), started in `beforeAll` and
 * closed in `afterAll`. Also the waits and the network probe several run tests share.
 */
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, beforeAll } from "vitest";
import { FsBlobStore } from "../src/blobs/blobStore";
import { coreRenderer, ImageBuilder } from "../src/builds/builder";
import { DockerClient } from "../src/docker/client";
import { Registry } from "../src/environments/registry";
import type { Gpus } from "../src/gpus/gpus";
import { silentLogger } from "../src/logger";
import type { RunRecord } from "../src/runs/runStore";
import { storeSnapshot } from "../src/runs/snapshot";
import { openRunSupport, type RunSupport } from "../src/runs/support";
import { openStore } from "../src/server";
import type { Store } from "../src/store/types";

export interface RunSupportOptions {
  /** prefix of the temp data dir */
  prefix: string;
  /** give the run support a docker target on this machine's engine */
  docker?: boolean;
  gpus?: Gpus;
  /** the admin token the registry is bootstrapped with */
  token?: string;
  /** called after the support is opened and before it starts (mount an app, set the base URL) */
  beforeStart?: (fx: RunSupportFixture) => Promise<void>;
  /** called in afterAll, after the support is closed and before the store is */
  afterClose?: () => Promise<void>;
}

export interface RunSupportFixture {
  readonly path: string;
  readonly client: DockerClient;
  readonly blobs: FsBlobStore;
  readonly store: Store;
  readonly support: RunSupport;
  readonly workspaceId: string;
}

export function useRunSupport(options: RunSupportOptions): RunSupportFixture {
  const t = makeTempDir(options.prefix);
  const client = new DockerClient();
  const blobs = new FsBlobStore(join(t.path, "blobs"));
  let store: Store | undefined;
  let support: RunSupport | undefined;
  let workspaceId: string | undefined;
  const fx: RunSupportFixture = {
    path: t.path,
    client,
    blobs,
    get store() {
      if (!store) throw new Error("the store opens in beforeAll");
      return store;
    },
    get support() {
      if (!support) throw new Error("the run support opens in beforeAll");
      return support;
    },
    get workspaceId() {
      if (!workspaceId) throw new Error("the workspace is created in beforeAll");
      return workspaceId;
    },
  };
  beforeAll(async () => {
    store = await openStore({ dataDir: t.path });
    await new Registry({ store, blobs }).bootstrap(options.token);
    workspaceId = (await store.getWorkspace("default"))!.id;
    const docker = options.docker
      ? {
          builder: new ImageBuilder({
            docker: client,
            render: coreRenderer({ condaExecutable: null }),
            registry: null,
          }),
          client,
        }
      : undefined;
    support = openRunSupport({
      dataDir: t.path,
      store,
      blobs,
      logger: silentLogger,
      ...(docker ? { docker } : {}),
      ...(options.gpus ? { gpus: options.gpus } : {}),
    });
    await options.beforeStart?.(fx);
    await support.start();
  });
  afterAll(async () => {
    await support?.close();
    await options.afterClose?.();
    await store?.close();
    t.cleanup();
  });
  return fx;
}

const FINAL = ["completed", "failed", "canceled"];

/** Polls the run until it is completed, failed or canceled; returns it with its log text. */
export async function waitForRun(support: RunSupport, id: string): Promise<{ r: RunRecord; text: string }> {
  for (;;) {
    const r = await support.runStore.getRun(id);
    if (r && FINAL.includes(r.status)) {
      const text = (await support.runStore.logs(r.id)).map((l) => l.text).join("\n");
      return { r, text };
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** A one-file snapshot of `script` saved as `path` in the fixture's workspace. */
export function scriptSnapshot(fx: RunSupportFixture, path: string, script: string) {
  return storeSnapshot(
    fx.blobs,
    fx.workspaceId,
    [{ path, content: Buffer.from(script).toString("base64") }],
    1024 * 1024,
  );
}

const PROBE = [
  "import os, socket, sys, mlenv_run",
  "try:",
  "    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)",
  "    print('REACHED', s.recv(100).decode())",
  "except OSError as e:",
  "    print('BLOCKED', type(e).__name__)",
  "mlenv_run.log('probed', 1)",
  "os.makedirs('outputs', exist_ok=True)",
  "open('outputs/done.txt', 'w').write('ok')",
].join("\n");

/**
 * Listens on a loopback port of the host (another workspace's local service, answering "secret"),
 * then runs a probe script that tries to reach it, without and with `network: true`. The probe
 * prints REACHED or BLOCKED, logs the metric `probed` and writes outputs/done.txt.
 */
export async function probeLoopback(
  fx: RunSupportFixture,
  run: { target: "local" | "docker"; definition: Record<string, unknown> },
): Promise<{ closed: { r: RunRecord; text: string }; open: { r: RunRecord; text: string } }> {
  const probe = createServer((socket) => socket.end("secret"));
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
  const port = (probe.address() as AddressInfo).port;
  try {
    const snap = await scriptSnapshot(fx, "probe.py", PROBE);
    const runWith = async (network: boolean) => {
      const submitted = await fx.support.runs.submit({
        workspaceId: fx.workspaceId,
        createdBy: "t",
        experiment: "net",
        script: "probe.py",
        arguments: [String(port)],
        snapshot: snap.id,
        target: run.target,
        environment: { definition: run.definition },
        ...(network ? { network: true } : {}),
      });
      return waitForRun(fx.support, submitted.id);
    };
    return { closed: await runWith(false), open: await runWith(true) };
  } finally {
    probe.close();
  }
}
