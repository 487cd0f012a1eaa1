import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ComputeClient,
  Datastore,
  PyTorchConfiguration,
  RunsClient,
  ScriptRunConfig,
  Workspace,
} from "@mlenv/sdk";
import { Experiment } from "@mlenv/sdk/node";
import {
  type ApiClient,
  baseImageCpu,
  condaArchiveToolsMissing,
  dockerAvailable,
  makeTempDir,
  postgresMissing,
  type ServerProcess,
  type SlurmCluster,
  skipWithout,
  slurmMissing,
  startPostgres,
  startSlurm,
  startTestServer,
  type TestServer,
  withGreetCondaChannel,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  apiClient,
  completedRun,
  pollRun,
  runLog,
  snapshotFiles,
  spawnServer,
  uploadSnapshot,
  venvMissing,
} from "../../test/helpers";
import { startServer } from "../server";

const TRAIN = `
import json, os, sys
import mlenv_run
print("training with", sys.argv[1:])
for loss in [0.5, 0.25]:
    mlenv_run.log("loss", loss)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.json", "w") as f:
    json.dump({"weight": 2.0, "user": os.getuid()}, f)
print("done", file=sys.stderr)
`;

// biome-ignore lint/suspicious/noExplicitAny: run JSON checked field by field
type RunJson = any;

const missing = slurmMissing() ?? venvMissing();
const dockerMissing = await dockerAvailable();

describe.skipIf(skipWithout("slurm", missing))("runs on a real one-node Slurm cluster", () => {
  let slurm: SlurmCluster;
  let server: TestServer;
  let api: ReturnType<typeof apiClient>;
  // images build on the offline base with venv (the default layout locks conda against remote channels)
  const serverOptions = {
    runs: { clusterPollMs: 300 },
    builds: { baseImageCpu: baseImageCpu(), condaExecutable: null },
  };

  beforeAll(async () => {
    slurm = await startSlurm();
    server = await startTestServer((o) => startServer({ ...o, ...serverOptions }));
    api = apiClient(server.url, server.token);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await slurm?.stop();
  });

  const snapshot = (files: Record<string, string>) => uploadSnapshot(api, files);

  /** Poll run `id` (through `client`, the suite's server by default) until `ok(run)`. */
  const waitFor = (id: string, ok: (run: RunJson) => boolean, timeoutMs = 120_000, client: ApiClient = api) =>
    pollRun(client, id, { until: ok, timeoutMs });
  const final = (id: string, timeoutMs = 120_000, client: ApiClient = api) =>
    pollRun(client, id, { timeoutMs });
  const logText = (id: string, client: ApiClient = api) => runLog(client, id);

  async function submit(files: Record<string, string>, extra: Record<string, unknown> = {}) {
    const snap = await snapshot(files);
    return api("POST", "/api/v1/runs", {
      experiment: "slurm",
      script: "train.py",
      snapshot: snap,
      target: "cluster",
      ...extra,
    });
  }

  /** The compute target request that attaches this cluster as `name`. */
  const clusterTarget = (name = "cluster") => ({
    kind: "slurm",
    name,
    restUrl: slurm.restUrl,
    sharedDir: slurm.sharedDir,
    partition: "main",
  });

  /** On another server (through `client`): attach the cluster and submit `train.py` to it; the run's id. */
  async function submitElsewhere(client: ApiClient, experiment: string, trainPy: string): Promise<string> {
    const att = await client("POST", "/api/v1/compute", clusterTarget());
    expect(att.status, JSON.stringify(att.json)).toBe(201);
    const sub = await client("POST", "/api/v1/runs", {
      experiment,
      script: "train.py",
      snapshot: await uploadSnapshot(client, { "train.py": trainPy }),
      target: "cluster",
    });
    expect(sub.status, JSON.stringify(sub.json)).toBe(201);
    return sub.json.id;
  }

  /**
   * For server processes of their own (spawnServer): the settings of a fresh data dir (removed by
   * the test) with a known admin token, following cluster jobs every 300 ms, and `more`.
   */
  function serverProcessSettings(prefix: string, more: Record<string, string> = {}) {
    const dir = makeTempDir(prefix);
    const token = `mlenv_${randomBytes(32).toString("base64url")}`;
    const env = {
      MLENV_DATA_DIR: dir.path,
      MLENV_BOOTSTRAP_TOKEN: token,
      MLENV_CLUSTER_POLL_MS: "300",
      ...more,
    };
    return { env, token, dir };
  }

  it("attaches the cluster as a compute target (validated), listed after local and docker", async () => {
    const r = await api("POST", "/api/v1/compute", clusterTarget());
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    expect(r.json).toMatchObject({ name: "cluster", kind: "slurm", credentials: "none" });
    const list = await api("GET", "/api/v1/compute");
    expect(list.json.items.map((t: { name: string }) => t.name)).toEqual(["local", "docker", "cluster"]);
  });

  it("runs a script: logs, metrics and outputs come back, the run names its job", async () => {
    const sub = await submit({ "train.py": TRAIN }, { arguments: ["--lr", "0.1; rm -rf /"] });
    expect(sub.status, JSON.stringify(sub.json)).toBe(201);
    const { run } = await completedRun(api, sub.json.id);
    expect(run.target).toBe("cluster");
    expect(run.compute).toMatchObject({ kind: "slurm", target: "cluster", state: "COMPLETED" });
    expect(run.compute.jobIds).toHaveLength(1);
    const log = await logText(run.id);
    expect(log).toContain("training with ['--lr', '0.1; rm -rf /']");
    expect(log).toContain("done");
    expect(log).toMatch(/submitted Slurm job \d+/);
    const metrics = await api("GET", `/api/v1/runs/${run.id}/metrics`);
    expect(metrics.json.items.map((m: { value: number }) => m.value)).toEqual([0.5, 0.25]);
    expect(run.artifacts.map((a: { path: string }) => a.path)).toEqual(["outputs/model.json"]);
    const model = await fetch(
      `${server.url}/api/v1/runs/${run.id}/artifacts/content?path=outputs/model.json`,
      {
        headers: { authorization: `Bearer ${server.token}` },
      },
    );
    const body = JSON.parse(await model.text());
    // the job ran as the cluster user, not as the server's root
    expect(body.weight).toBe(2.0);
    expect(body.user).not.toBe(0);
  }, 180_000);

  it("three runs at once queue on the cluster and all finish", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await submit(
        { "train.py": "import time, mlenv_run\ntime.sleep(1)\nmlenv_run.log('i', 1)\nprint('ok')\n" },
        // each asks for all CPUs of the node: the cluster runs them one after another
        { resources: { cpusPerTask: 2 } },
      );
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      ids.push(r.json.id);
    }
    const runs = await Promise.all(ids.map((id) => final(id)));
    expect(runs.map((r) => r.status)).toEqual(["completed", "completed", "completed"]);
    const jobs = runs.map((r) => r.compute.jobIds[0]);
    expect(new Set(jobs).size).toBe(3);
    // at least one of them waited for the node (Slurm's reason was shown)
    const logs = await Promise.all(ids.map((id) => logText(id)));
    expect(logs.some((l) => /PENDING \((Resources|Priority)\)/.test(l))).toBe(true);
  }, 180_000);

  it("a failing script fails the run with its exit code and last output", async () => {
    const r = await submit({ "train.py": "import sys\nprint('about to fail')\nsys.exit(3)\n" });
    const run = await final(r.json.id);
    expect(run.status).toBe("failed");
    expect(run.exitCode).toBe(3);
    expect(run.error.code).toBe("E_SCRIPT_FAILED");
    expect(run.error.message).toContain("about to fail");
  }, 120_000);

  it("cancels a running run: the Slurm job is cancelled", async () => {
    const r = await submit({ "train.py": "import time\nprint('started', flush=True)\ntime.sleep(300)\n" });
    await waitFor(r.json.id, (x) => x.status === "running");
    const c = await api("POST", `/api/v1/runs/${r.json.id}/cancel`);
    expect(c.json.status).toBe("canceled");
    const jobId = c.json.compute.jobIds[0];
    const run = await waitFor(r.json.id, (x) => x.compute?.state === "CANCELLED", 60_000);
    expect(run.status).toBe("canceled");
    const q = slurm.command("squeue", ["-h", "-j", String(jobId), "-o", "%T"]);
    expect(q.stdout.trim()).not.toBe("RUNNING");
  }, 120_000);

  it("a job over its memory fails as out of memory", async () => {
    const r = await submit(
      {
        "train.py":
          "import time\nx = bytearray(400 * 2**20)\nfor i in range(0, len(x), 4096): x[i] = 1\nprint('allocated', flush=True)\ntime.sleep(30)\n",
      },
      { resources: { memoryMb: 100 } },
    );
    const run = await final(r.json.id, 90_000);
    expect(run.status).toBe("failed");
    expect(run.error.code).toBe("E_CLUSTER_OUT_OF_MEMORY");
  }, 120_000);

  it("a partition that does not exist is a clear error and nothing is queued", async () => {
    const before = (await api("GET", "/api/v1/runs")).json.items.length;
    const r = await submit({ "train.py": "print(1)\n" }, { resources: { partition: "nope" } });
    expect(r.status).toBe(400);
    expect(r.json.message).toContain("resources.partition");
    expect(r.json.message).toContain("main, short");
    expect((await api("GET", "/api/v1/runs")).json.items.length).toBe(before);
    const bad = await submit({ "train.py": "print(1)\n" }, { resources: { partition: "main;reboot" } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toContain("resources.partition");
  });

  it("a two-task distributed run: each task sees its rank and the world size", async () => {
    const r = await submit(
      {
        "train.py":
          "import os\nprint('rank', os.environ['RANK'], 'of', os.environ['WORLD_SIZE'], 'local', os.environ['LOCAL_RANK'], 'master', bool(os.environ['MASTER_ADDR']), os.environ['MASTER_PORT'].isdigit(), flush=True)\n",
      },
      { resources: { tasksPerNode: 2, distribution: "pytorch" } },
    );
    const { log } = await completedRun(api, r.json.id);
    expect(log).toContain("rank 0 of 2 local 0 master True True");
    expect(log).toContain("rank 1 of 2 local 1 master True True");
  }, 120_000);

  it("a conda environment on the cluster: two servers submitting it at once build the prefix once on the shared directory", async () => {
    if (skipWithout("zstd/bzip2 tools", condaArchiveToolsMissing())) return;
    await withGreetCondaChannel(async ({ channel, pythonVersion }) => {
      // a second server process with its own database: the only thing the two share is the
      // cluster's shared directory, so only the lock file there keeps them from building twice
      // the same settings: another image layout would key the environment elsewhere
      const other = await startTestServer((o) => startServer({ ...o, ...serverOptions }));
      try {
        const api2 = apiClient(other.url, other.token);
        const att = await api2("POST", "/api/v1/compute", clusterTarget());
        expect(att.status, JSON.stringify(att.json)).toBe(201);
        const definition = {
          name: "conda-on-cluster",
          python: {
            condaDependencies: {
              name: "x",
              // a name no other test run used: a new environment on the shared directory
              dependencies: [`python=${pythonVersion}`, "greet"],
              channels: [channel.url],
              variables: { MLENV_TEST_NONCE: randomBytes(6).toString("hex") },
            },
          },
        };
        const files = snapshotFiles({
          "train.py": "import sys, greet\nprint(greet.GREETING)\nprint('prefix', sys.prefix)\n",
        });
        const subs = await Promise.all(
          [api, api2].map(async (a) => {
            const snap = await a("POST", "/api/v1/snapshots", { files });
            return a("POST", "/api/v1/runs", {
              experiment: "conda",
              script: "train.py",
              snapshot: snap.json.id,
              target: "cluster",
              environment: { definition },
            });
          }),
        );
        for (const s of subs) expect(s.status, JSON.stringify(s.json)).toBe(201);
        const logs: string[] = [];
        for (const [i, a] of [api, api2].entries()) {
          const id = subs[i]?.json.id as string;
          const end = Date.now() + 300_000;
          // biome-ignore lint/suspicious/noExplicitAny: run JSON checked field by field
          let run: any;
          for (;;) {
            // a keep-alive connection the server closes just then: ask again
            run = (await a("GET", `/api/v1/runs/${id}`).catch(() => null))?.json ?? run;
            if (["completed", "failed", "canceled"].includes(run?.status) || Date.now() > end) break;
            await new Promise((res) => setTimeout(res, 300));
          }
          const log = (await a("GET", `/api/v1/runs/${id}/logs`)).json.items
            .map((l: { text: string }) => l.text)
            .join("\n");
          expect(run.status, log).toBe("completed");
          expect(log).toContain("hello from a conda package");
          expect(log).toMatch(new RegExp(`prefix ${slurm.sharedDir}/\\.mlenv/envs/[0-9a-f]+`));
          logs.push(log);
        }
        // one server installed the prefix, the other waited for its lock and reused it
        expect(logs.filter((l) => l.includes("installing conda environment"))).toHaveLength(1);
        expect(logs.filter((l) => l.includes("conda environment ready: 2 conda packages"))).toHaveLength(1);
        expect(logs.filter((l) => l.includes("environment ready: reusing venv"))).toHaveLength(1);
        expect(logs.some((l) => l.includes("waiting for another process that is building venv"))).toBe(true);
      } finally {
        await other.stop();
      }
    });
  }, 400_000);

  it.skipIf(skipWithout("docker", dockerMissing))(
    "a target that runs containers: the script runs in the run's image on the node (no network, datastore read-only); cancel removes the container",
    async () => {
      const att = await api("POST", "/api/v1/compute", {
        ...clusterTarget("cluster-docker"),
        containers: "docker",
      });
      expect(att.status, JSON.stringify(att.json)).toBe(201);
      expect(att.json.settings.containers).toBe("docker");
      const bad = await api("POST", "/api/v1/compute", {
        kind: "slurm",
        name: "cluster-bad",
        restUrl: slurm.restUrl,
        sharedDir: slurm.sharedDir,
        partition: "main",
        containers: "bridge-net",
      });
      expect(bad.status).toBe(400);
      expect(bad.json.message).toContain("containers");
      const data = join(slurm.sharedDir, "datasets", "container-data");
      mkdirSync(data, { recursive: true });
      writeFileSync(join(data, "values.txt"), "4\n5\n");
      const ds = await api("POST", "/api/v1/datastores", {
        name: "container-data",
        kind: "directory",
        path: data,
      });
      expect(ds.status, JSON.stringify(ds.json)).toBe(201);
      const environment = { definition: { name: "cluster-image", docker: { baseImage: baseImageCpu() } } };
      const script = [
        "import json, os, socket, sys, mlenv_run",
        "print('in container', os.path.exists('/.dockerenv'), 'uid', os.getuid(), 'job', os.environ.get('SLURM_JOB_ID', '').isdigit())",
        "print('data', sum(int(x) for x in open(os.path.join(sys.argv[1], 'values.txt'))))",
        "try:",
        "    open(os.path.join(sys.argv[1], 'x'), 'w')",
        "    print('data writable')",
        "except OSError as e:",
        "    print('data read-only', e.errno)",
        "try:",
        "    socket.create_connection(('127.0.0.1', 22), timeout=2)",
        "    print('network reached')",
        "except OSError:",
        "    print('no network')",
        "mlenv_run.log('loss', 0.5)",
        "os.makedirs('outputs', exist_ok=True)",
        "json.dump({'ok': 1}, open('outputs/m.json', 'w'))",
      ].join("\n");
      const r = await submit(
        { "train.py": script },
        {
          target: "cluster-docker",
          environment,
          arguments: [{ datastore: "container-data", mode: "mount" }],
        },
      );
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      const { run, log } = await completedRun(api, r.json.id, 300_000);
      expect(log).toMatch(/in container True uid [1-9]\d* job True/);
      expect(log).toContain("data 9");
      expect(log).toMatch(/data read-only 30\b/);
      expect(log).toContain("no network");
      expect(log).toMatch(/the script runs in a container of \S+ \(no network\)/);
      expect(existsSync(join(data, "x"))).toBe(false);
      expect((await api("GET", `/api/v1/runs/${run.id}/metrics`)).json.items).toMatchObject([
        { name: "loss", value: 0.5 },
      ]);
      expect(run.artifacts.map((a: { path: string }) => a.path)).toEqual(["outputs/m.json"]);

      const long = await submit(
        { "train.py": "import time\nprint('started', flush=True)\ntime.sleep(300)\n" },
        { target: "cluster-docker", environment },
      );
      await waitFor(long.json.id, (x) => x.status === "running");
      const labelled = () =>
        spawnSync("docker", ["ps", "-q", "--filter", `label=mlenv.run=${long.json.id}`], {
          encoding: "utf8",
        }).stdout.trim();
      const end = Date.now() + 60_000;
      while (!labelled() && Date.now() < end) await new Promise((res) => setTimeout(res, 300));
      expect(labelled()).not.toBe("");
      await api("POST", `/api/v1/runs/${long.json.id}/cancel`);
      await waitFor(long.json.id, (x) => x.compute?.state === "CANCELLED", 60_000);
      const gone = Date.now() + 30_000;
      while (labelled() && Date.now() < gone) await new Promise((res) => setTimeout(res, 300));
      expect(labelled()).toBe("");
      expect((await api("DELETE", "/api/v1/compute/cluster-docker")).status).toBe(204);
    },
    400_000,
  );

  it("slurmctld restarted while a run is running: the run's state recovers", async () => {
    const r = await submit({ "train.py": "import time\ntime.sleep(6)\nprint('survived')\n" });
    await waitFor(r.json.id, (x) => x.status === "running");
    slurm.restartController();
    const { run } = await completedRun(api, r.json.id);
    expect(await logText(run.id)).toContain("survived");
  }, 120_000);

  it("slurmctld down while a run is pending: the run waits, then runs when it is back", async () => {
    const blocker = await submit(
      { "train.py": "import time\ntime.sleep(4)\n" },
      { resources: { cpusPerTask: 2 } },
    );
    const r = await submit({ "train.py": "print('after the restart')\n" }, { resources: { cpusPerTask: 2 } });
    await waitFor(r.json.id, (x) => x.compute?.state === "PENDING");
    slurm.restartController();
    await completedRun(api, r.json.id);
    expect((await final(blocker.json.id)).status).toBe("completed");
  }, 120_000);

  it("a job Slurm forgets (controller state lost) is marked lost with a reason", async () => {
    const r = await submit({ "train.py": "import time\ntime.sleep(300)\n" });
    await waitFor(r.json.id, (x) => x.status === "running");
    slurm.forgetJobs();
    const run = await final(r.json.id, 60_000);
    expect(run.status).toBe("failed");
    expect(run.error.code).toBe("E_CLUSTER_JOB_LOST");
    expect(run.error.message).toMatch(/Slurm no longer knows job \d+/);
    expect(run.compute.state).toBe("LOST");
  }, 120_000);

  it("a job cancelled on the cluster (scancel) is canceled with Slurm's state", async () => {
    const r = await submit({ "train.py": "import time\ntime.sleep(300)\n" });
    const running = await waitFor(r.json.id, (x) => x.status === "running");
    const jobId = String(running.compute.jobIds[0]);
    // the job disappears behind mlenv's back before it could write its exit status
    const rm = slurm.command("scancel", ["--signal=KILL", "--full", jobId]);
    expect(rm.status, rm.stderr).toBe(0);
    const run = await final(r.json.id, 60_000);
    // cancelled outside mlenv: the run says so with Slurm's state
    expect(run.status).toBe("canceled");
    expect(run.error.code).toBe("E_CLUSTER_CANCELLED");
  }, 120_000);

  it("the server restarted while a job runs: the next server process picks the job up", async () => {
    const { env, token, dir } = serverProcessSettings("mlenv-slurm-restart-");
    const first = await spawnServer(env);
    const a1 = apiClient(first.url, token);
    try {
      const id = await submitElsewhere(
        a1,
        "restart",
        "import time, mlenv_run\nprint('before', flush=True)\ntime.sleep(5)\nmlenv_run.log('after', 1)\nprint('after')\n",
      );
      await waitFor(id, (x) => x.status === "running", 60_000, a1);
      await first.crash();
      // the job ends and Slurm purges it (MinJobAge=5) while no server follows it
      await new Promise((res) => setTimeout(res, 12_000));
      const second = await spawnServer(env);
      try {
        const a2 = apiClient(second.url, token);
        const { log } = await completedRun(a2, id, 60_000);
        expect(log).toContain("before");
        expect(log).toContain("after");
        expect(log).toContain("taken over by another server process");
        const m = await a2("GET", `/api/v1/runs/${id}/metrics`);
        expect(m.json.items.map((x: { name: string }) => x.name)).toEqual(["after"]);
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop();
      dir.cleanup();
    }
  }, 150_000);

  it.skipIf(skipWithout("postgres", postgresMissing()))(
    "PostgreSQL, two server processes: the one still running takes over the job of the one that crashed",
    async () => {
      const pg = await startPostgres();
      const { env, token, dir } = serverProcessSettings("mlenv-slurm-pg-", {
        MLENV_DATABASE_URL: pg.createDatabase("slurm_takeover"),
      });
      let a: ServerProcess | undefined;
      let b: ServerProcess | undefined;
      try {
        a = await spawnServer(env);
        b = await spawnServer(env);
        const apiA = apiClient(a.url, token);
        const apiB = apiClient(b.url, token);
        const id = await submitElsewhere(
          apiA,
          "pg",
          "import time\nprint('one', flush=True)\ntime.sleep(4)\nprint('two')\n",
        );
        await waitFor(id, (x) => x.status === "running", 90_000, apiB);
        await a.crash();
        const { log } = await completedRun(apiB, id, 90_000);
        expect(log).toContain("one");
        expect(log).toContain("two");
      } finally {
        await a?.stop();
        await b?.stop();
        await pg.stop();
        dir.cleanup();
      }
    },
    150_000,
  );

  it("bad target settings are refused naming the setting; nothing is attached", async () => {
    const base = clusterTarget("bad");
    const cases: [Record<string, unknown>, string][] = [
      [{ partition: "main; rm -rf /" }, "partition"],
      [{ partition: "$(reboot)" }, "partition"],
      [{ qos: "normal`id`" }, "qos"],
      [{ account: "a b" }, "account"],
      [{ sharedDir: "relative/dir" }, "sharedDir"],
      [{ sharedDir: `${slurm.sharedDir}/../etc` }, "sharedDir"],
      [{ sharedDir: "/tmp/x;id" }, "sharedDir"],
      [{ sharedDir: "/nonexistent/mlenv" }, "sharedDir"],
      [{ restUrl: "unix:/tmp/nothing-listens-here.sock" }, "restUrl"],
      [{ restUrl: "http://127.0.0.1:1", user: "u", token: "t" }, "restUrl"],
      [{ restUrl: "unix:/tmp/x.sock;id" }, "restUrl"],
      [{ restUrl: "ftp://example" }, "restUrl"],
      [{ restUrl: slurm.jwtUrl }, "user"],
      [{ restUrl: slurm.jwtUrl, user: slurm.user, token: "wrong-or-expired" }, "token"],
      [{ partition: "gpu" }, "partition"],
      [{ name: "local" }, "name"],
      [{ name: "Bad Name" }, "name"],
    ];
    for (const [change, setting] of cases) {
      const r = await api("POST", "/api/v1/compute", { ...base, ...change });
      expect(r.status, `${JSON.stringify(change)}: ${JSON.stringify(r.json)}`).toBe(400);
      expect(r.json.details.setting, JSON.stringify(r.json)).toBe(setting);
      expect(r.json.message).toContain(setting);
      expect(JSON.stringify(r.json)).not.toContain("wrong-or-expired");
    }
    const list = await api("GET", "/api/v1/compute");
    expect(list.json.items.map((t: { name: string }) => t.name)).toEqual(["local", "docker", "cluster"]);
    const miss = await submit({ "train.py": "print(1)\n" }, { target: "nowhere" });
    expect(miss.status).toBe(400);
    expect(miss.json.message).toContain("compute target");
  });

  it("a token is kept as a workspace secret and never shown back", async () => {
    // the JWT endpoint refuses every token, so attach the socket endpoint with one for the check
    const r = await api("POST", "/api/v1/compute", {
      kind: "slurm",
      name: "with-token",
      restUrl: slurm.restUrl,
      sharedDir: slurm.sharedDir,
      partition: "short",
      token: "s3cr3t-token-value",
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    expect(JSON.stringify(r.json)).not.toContain("s3cr3t");
    expect(r.json.credentials).toBe("secret");
    const show = await api("GET", "/api/v1/compute/with-token");
    expect(JSON.stringify(show.json)).not.toContain("s3cr3t");
    const secrets = await api("GET", "/api/v1/secrets");
    expect(secrets.json.items.map((x: { name: string }) => x.name)).toContain("COMPUTE_WITH_TOKEN_TOKEN");
    expect(JSON.stringify(secrets.json)).not.toContain("s3cr3t");
    expect((await api("DELETE", "/api/v1/compute/with-token")).status).toBe(204);
    expect((await api("GET", "/api/v1/compute/with-token")).status).toBe(404);
    const after = await api("GET", "/api/v1/secrets");
    expect(after.json.items.map((x: { name: string }) => x.name)).not.toContain("COMPUTE_WITH_TOKEN_TOKEN");
  });

  it("a run reads a directory datastore as a mount and a blob datastore version as a download", async () => {
    const data = join(slurm.sharedDir, "datasets", "numbers");
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, "values.txt"), "1\n2\n3\n");
    const d1 = await api("POST", "/api/v1/datastores", { name: "numbers", kind: "directory", path: data });
    expect(d1.status, JSON.stringify(d1.json)).toBe(201);
    const d2 = await api("POST", "/api/v1/datastores", { name: "labels", kind: "blob" });
    expect(d2.status).toBe(201);
    const up = await api("POST", "/api/v1/datastores/labels/versions", {
      files: snapshotFiles({ "labels.csv": "a,b\n", "more/x.txt": "x" }),
    });
    expect(up.status, JSON.stringify(up.json)).toBe(201);
    expect(up.json.version.version).toBe(1);
    const again = await api("POST", "/api/v1/datastores/labels/versions", {
      files: snapshotFiles({ "labels.csv": "a,b\n", "more/x.txt": "x" }),
    });
    expect(again.status).toBe(200);
    expect(again.json.version.version).toBe(1);
    const script = `
import os, sys
mount, download = sys.argv[1], sys.argv[2]
print("mount", sum(int(x) for x in open(os.path.join(mount, "values.txt"))))
print("download", open(os.path.join(download, "labels.csv")).read().strip(), os.path.isfile(os.path.join(download, "more", "x.txt")))
print("inside", os.path.realpath(download).startswith(os.path.realpath(os.getcwd())))
`;
    const args = [
      { datastore: "numbers", mode: "mount" },
      { datastore: "labels", mode: "download" },
    ];
    for (const target of ["cluster", "local"]) {
      const r = await submit({ "train.py": script }, { arguments: args, target });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      const { run, log } = await completedRun(api, r.json.id);
      expect(log).toContain("mount 6");
      expect(log).toContain("download a,b True");
      expect(log).toContain("inside True");
      expect(run.inputs).toEqual([
        expect.objectContaining({
          datastore: "numbers",
          mode: "mount",
          kind: "directory",
          version: null,
          path: data,
        }),
        expect.objectContaining({
          datastore: "labels",
          mode: "download",
          kind: "blob",
          version: 1,
          digest: up.json.version.digest,
        }),
      ]);
    }
    const none = await submit(
      { "train.py": script },
      { arguments: [{ datastore: "nothing", mode: "mount" }] },
    );
    expect(none.status).toBe(404);
    const badVersion = await submit(
      { "train.py": script },
      { arguments: [{ datastore: "labels", mode: "mount", version: 9 }] },
    );
    expect(badVersion.status).toBe(400);
    expect(badVersion.json.message).toContain("arguments.0.version");
    const badPath = await api("POST", "/api/v1/datastores", {
      name: "evil",
      kind: "directory",
      path: "/tmp/$(id)",
    });
    expect(badPath.status).toBe(400);
    expect(badPath.json.message).toContain("path");
  }, 180_000);

  it("the SDK: a target and a datastore by name, a distributed ScriptRunConfig, ds.asMount() as an argument", async () => {
    const ws = new Workspace({ url: server.url, token: server.token });
    const targets = await new ComputeClient(ws).list();
    expect(targets.find((t) => t.name === "cluster")?.kind).toBe("slurm");
    const src = makeTempDir("mlenv-slurm-sdk-");
    try {
      writeFileSync(
        join(src.path, "train.py"),
        "import os, sys\nprint('task', os.environ['RANK'], os.environ['WORLD_SIZE'], sorted(os.listdir(sys.argv[1])))\n",
      );
      const ds = await Datastore.get(ws, "numbers");
      const config = new ScriptRunConfig({
        sourceDirectory: src.path,
        script: "train.py",
        arguments: [ds.asMount()],
        computeTarget: "cluster",
        distributedJobConfig: new PyTorchConfiguration({ processCount: 2, nodeCount: 1 }),
      });
      const run = await new Experiment(ws, "sdk-slurm").submit(config);
      await run.waitForCompletion({ showOutput: false });
      expect(run.info.status).toBe("completed");
      const log = (await new RunsClient(ws).logs(run.id)).items.map((l) => l.text).join("\n");
      expect(log).toContain("task 0 2 ['values.txt']");
      expect(log).toContain("task 1 2 ['values.txt']");
      expect(run.info.compute).toMatchObject({ target: "cluster", resources: { nodes: 1, tasksPerNode: 2 } });
    } finally {
      src.cleanup();
    }
  }, 120_000);

  it("a job over its time limit ends in the timeout state", async () => {
    const r = await submit(
      { "train.py": "import time\nprint('long', flush=True)\ntime.sleep(600)\n" },
      {
        resources: { timeLimitMinutes: 1 },
      },
    );
    const run = await final(r.json.id, 170_000);
    expect(run.status).toBe("failed");
    expect(run.error.code).toBe("E_CLUSTER_TIMEOUT");
    expect(run.compute.state).toBe("TIMEOUT");
  }, 180_000);
});
