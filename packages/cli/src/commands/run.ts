import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve, sep } from "node:path";
import type { LogLine, Model, RunsClient, SnapshotFile, Workspace } from "@mlenv/sdk";
import { type Command, InvalidArgumentError } from "commander";
import { type CliContext, CliError } from "../context";
import { sanitize } from "../output";
import { humanBytes } from "../progress";
import { datastoreArgument } from "./compute";
import { listCommand } from "./listCommand";
import { parseVersion } from "./versionNumber";

// The SDK loads when a command runs, not when the program is built.
const sdk = () => import("@mlenv/sdk");

/** `NAME` or `NAME:VERSION`. */
export function parseNameVersion(v: string): { name: string; version?: number } {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,254})(?::([1-9]\d{0,8}))?$/.exec(v);
  if (!m)
    throw new InvalidArgumentError(`expected NAME or NAME:VERSION such as my-env:3; received ${sanitize(v)}`);
  return m[2] ? { name: m[1]!, version: Number(m[2]) } : { name: m[1]! };
}

/** A whole number of 1 or more (nodes, tasks, MiB, minutes). */
function positiveInt(v: string): number {
  if (!/^[1-9]\d{0,8}$/.test(v))
    throw new InvalidArgumentError(`expected a whole number such as 2; received ${sanitize(v)}`);
  return Number(v);
}

/** A positive decimal such as 0.5 (the server checks the bounds). */
function parseLimit(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive number such as 0.5; received ${sanitize(v)}`);
  return n;
}

/** A GPU count 0-64. */
function parseGpus(v: string): number {
  if (!/^\d{1,2}$/.test(v) || Number(v) > 64)
    throw new InvalidArgumentError(`expected a number of GPUs from 0 to 64, e.g. 1; received ${sanitize(v)}`);
  return Number(v);
}

function line(l: LogLine): string {
  return l.stream === "system" ? `[mlenv] ${l.text}` : l.text;
}

/** A log line as printed: text (each line made safe), or one JSON line with `--json`. */
function printLine(ctx: CliContext, l: LogLine, json: boolean | undefined): void {
  if (json) ctx.jsonLine(l);
  else ctx.out(line(l));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function checkDir(ctx: CliContext, dir: string): string {
  const path = ctx.path(dir);
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    throw new CliError(
      "E_USAGE",
      `Expected --source-dir to name a directory such as ./src; ${sanitize(path)} is not one.`,
    );
  }
  return path;
}

/**
 * Print a run's log: once, or followed live (server-sent events, resumed after a dropped
 * connection) until the run is final; returns the run's status.
 */
async function printLogs(
  ctx: CliContext,
  ws: Workspace,
  id: string,
  options: { follow: boolean; json?: boolean },
): Promise<string> {
  const { RunsClient } = await sdk();
  const client = new RunsClient(ws);
  if (options.follow) {
    let status = "unknown";
    for await (const e of client.followLogs(id)) {
      if (e.type === "log") printLine(ctx, e.line, options.json);
      else status = e.run.status;
    }
    return status;
  }
  let after = 0;
  for (;;) {
    const page = await client.logs(id, after);
    for (const l of page.items) printLine(ctx, l, options.json);
    after = page.next;
    if (page.items.length === 0) return page.status;
  }
}

/** Upload a source snapshot with a progress line (its size and file count, elapsed time). */
async function uploadSnapshot(
  ctx: CliContext,
  client: RunsClient,
  files: SnapshotFile[],
): Promise<{ id: string }> {
  const total = files.reduce((n, f) => n + f.content.length, 0);
  const progress = ctx.progress("uploading the source snapshot");
  progress.update({ detail: `${files.length} files, ${humanBytes(total)}` });
  try {
    return await client.uploadSnapshot(files);
  } finally {
    progress.done();
  }
}

/** `mlenv run`, `mlenv model` and `mlenv service`. */
export function register(program: Command, ctx: CliContext): void {
  // The workspace's runs, models and services, through the SDK loaded on first use.
  const runs = async () => new (await sdk()).RunsClient(await ctx.workspace());

  program
    .command("gpus")
    .description(
      "The server machine's GPUs (nvidia-smi -L), how many runs/services hold each, and its __cuda version",
    )
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      const info = await (await runs()).gpus();
      if (opts.json) return ctx.json(info);
      ctx.out(
        `__cuda: ${info.cuda ?? "none"}${info.cudaSource !== "none" ? ` (from ${info.cudaSource})` : ""}`,
      );
      if (!info.devices.length)
        return ctx.out(`no GPU: ${sanitize(info.reason ?? "nvidia-smi -L listed none")}`);
      for (const d of info.devices)
        ctx.out(`GPU ${d.index}: ${sanitize(d.name)}${d.held ? ` (held by ${d.held})` : " (free)"}`);
    });

  const run = program
    .command("run")
    .description("Training runs: submit a script with its source directory, follow, list, cancel.");

  run
    .command("submit")
    .description(
      "Snapshot a source directory (honours .mlenvignore) and run a script in an environment; arguments after -- go to the script",
    )
    .requiredOption("--source-dir <dir>", "the directory to snapshot")
    .requiredOption("--script <path>", "the script, relative to the source directory, e.g. train.py")
    .option("-e, --experiment <name>", "the experiment (default: the source directory's name)")
    .option(
      "--env <name[:version]>",
      "a registered environment (default: a default environment registered automatically)",
      parseNameVersion,
    )
    .option(
      "--target <target>",
      "local (a venv on the server's machine), docker, or an attached compute target (mlenv compute list)",
      "local",
    )
    .option("--nodes <n>", "compute target: nodes", positiveInt)
    .option(
      "--tasks-per-node <n>",
      "compute target: tasks (processes) per node; more than one task in all starts them with srun",
      positiveInt,
    )
    .option("--cpus-per-task <n>", "compute target: CPUs per task", positiveInt)
    .option("--memory-mb <n>", "compute target: memory per node, MiB", positiveInt)
    .option("--time-limit <minutes>", "compute target: wall-clock limit in minutes", positiveInt)
    .option("--partition <name>", "compute target: the partition (default: the target's)")
    .option("--qos <name>", "compute target: the QoS")
    .option("--account <name>", "compute target: the account")
    .option("--distribution <kind>", "compute target: pytorch or mpi rank variables for each task")
    .option("--lock <file>", "a lock of the environment (mlenv env lock): install exactly its artifacts")
    .option(
      "--gpus <n>",
      "GPUs: on local/docker the run's own (CUDA_VISIBLE_DEVICES; it waits until that many are free, and fails at once when the machine has fewer); on a compute target GPUs per node (GRES gpu)",
      parseGpus,
    )
    .option("--share-gpus", "let the run's GPUs be shared with other runs that also share")
    .option(
      "--network",
      "give the run's code network access (default on local and docker: none, so it cannot reach services or the internet)",
    )
    .option("--wait", "stream the output until the run ends; exit 1 when it fails")
    .option("--json", "print the run as JSON")
    .argument("[args...]", "arguments for the script (after --)")
    .action(
      async (
        args: string[],
        opts: {
          sourceDir: string;
          script: string;
          experiment?: string;
          env?: { name: string; version?: number };
          target: string;
          lock?: string;
          gpus?: number;
          shareGpus?: boolean;
          network?: boolean;
          wait?: boolean;
          json?: boolean;
          nodes?: number;
          tasksPerNode?: number;
          cpusPerTask?: number;
          memoryMb?: number;
          timeLimit?: number;
          partition?: string;
          qos?: string;
          account?: string;
          distribution?: string;
        },
      ) => {
        if (!/^[a-z][a-z0-9-]{0,31}$/.test(opts.target)) {
          throw new CliError(
            "E_USAGE",
            `Expected --target local, docker or a compute target name like gpu-cluster; received ${sanitize(opts.target)}`,
          );
        }
        if (
          opts.distribution !== undefined &&
          opts.distribution !== "pytorch" &&
          opts.distribution !== "mpi"
        ) {
          throw new CliError(
            "E_USAGE",
            `Expected --distribution pytorch or mpi; received ${sanitize(opts.distribution)}`,
          );
        }
        const resources = {
          ...(opts.nodes ? { nodes: opts.nodes } : {}),
          ...(opts.tasksPerNode ? { tasksPerNode: opts.tasksPerNode } : {}),
          ...(opts.cpusPerTask ? { cpusPerTask: opts.cpusPerTask } : {}),
          ...(opts.memoryMb ? { memoryMb: opts.memoryMb } : {}),
          ...(opts.gpus ? { gpus: opts.gpus } : {}),
          ...(opts.timeLimit ? { timeLimitMinutes: opts.timeLimit } : {}),
          ...(opts.partition ? { partition: opts.partition } : {}),
          ...(opts.qos ? { qos: opts.qos } : {}),
          ...(opts.account ? { account: opts.account } : {}),
          ...(opts.distribution ? { distribution: opts.distribution as "pytorch" | "mpi" } : {}),
        };
        const scriptArgs = args.map(datastoreArgument);
        const dir = checkDir(ctx, opts.sourceDir);
        const experiment =
          opts.experiment ??
          (basename(dir)
            .replace(/[^A-Za-z0-9._-]/g, "-")
            .replace(/^[^A-Za-z0-9]+/, "") ||
            "default");
        let lock: unknown;
        if (opts.lock) {
          try {
            lock = JSON.parse(readFileSync(ctx.path(opts.lock), "utf8"));
          } catch (e) {
            throw new CliError(
              "E_USAGE",
              `Expected --lock to name a JSON lock file written by mlenv env lock; ${sanitize(String(e)).slice(0, 200)}`,
            );
          }
        }
        const [{ RunsClient }, { snapshotDirectory }] = await Promise.all([sdk(), import("@mlenv/sdk/node")]);
        const ws = await ctx.workspace();
        const client = new RunsClient(ws);
        const snap = await uploadSnapshot(ctx, client, snapshotDirectory(dir));
        const info = await client.submit({
          experiment,
          script: opts.script,
          snapshot: snap.id,
          arguments: scriptArgs,
          target: opts.target,
          ...(Object.keys(resources).length ? { resources } : {}),
          environment: opts.env ?? null,
          ...(lock !== undefined ? { lock } : {}),
          ...(opts.gpus ? { gpus: opts.gpus, shareGpus: opts.shareGpus === true } : {}),
          ...(opts.network ? { network: true } : {}),
        });
        if (!opts.wait) {
          if (opts.json) ctx.json(info);
          else {
            ctx.out(
              `Submitted run ${info.id} (${info.experiment} #${info.number}) in ${info.environment.name} version ${info.environment.version}`,
            );
            ctx.out(`Follow it with: mlenv run logs -f ${info.id}`);
          }
          return;
        }
        if (!opts.json) ctx.note(`Submitted run ${info.id} (${info.experiment} #${info.number})`);
        const status = opts.json
          ? await waitQuiet(ctx, ws, info.id)
          : await printLogs(ctx, ws, info.id, { follow: true });
        const final = await client.get(info.id);
        if (opts.json) ctx.json(final);
        if (status !== "completed") {
          throw new CliError(
            final.error?.code ?? "E_RUN_FAILED",
            `Run ${final.id} ended ${final.status}${final.exitCode !== null ? ` with exit code ${final.exitCode}` : ""}`,
          );
        }
      },
    );

  async function waitQuiet(ctx: CliContext, ws: Workspace, id: string): Promise<string> {
    const { RunsClient, isFinalRunStatus } = await sdk();
    const progress = ctx.progress(`run ${id}`);
    try {
      for (;;) {
        const r = await new RunsClient(ws).get(id);
        progress.update({ phase: `run ${r.status}` });
        if (isFinalRunStatus(r.status)) return r.status;
        await sleep(250);
      }
    } finally {
      progress.done();
    }
  }

  run
    .command("logs")
    .description("Print a run's output (-f: follow until it ends)")
    .argument("<id>", "the run id")
    .option("-f, --follow", "keep printing as lines are written until the run ends")
    .option("--json", "print each log line as one JSON line ({stream, text, ...})")
    .action(async (id: string, opts: { follow?: boolean; json?: boolean }) => {
      await printLogs(ctx, await ctx.workspace(), id, { follow: opts.follow === true, json: opts.json });
    });

  listCommand(run, ctx, {
    description: "Runs of the workspace, newest first",
    options: (c) => c.option("-e, --experiment <name>", "only this experiment"),
    fetch: async (opts: { experiment?: string }) => ({
      items: await (await runs()).list(opts.experiment ? { experiment: opts.experiment } : {}),
    }),
    columns: [
      { header: "id", value: (r) => r.id },
      { header: "experiment", value: (r) => `${r.experiment} #${r.number}` },
      { header: "status", value: (r) => r.status },
      { header: "exit", value: (r) => r.exitCode },
      { header: "environment", value: (r) => `${r.environment.name}:${r.environment.version}` },
      { header: "script", value: (r) => r.script },
      { header: "created", value: (r) => r.createdAt },
    ],
  });

  run
    .command("show")
    .description("A run: status, exit code, the exact environment version, metrics and output files")
    .argument("<id>", "the run id")
    .option("--json", "print JSON (with the environment's definition and lock)")
    .action(async (id: string, opts: { json?: boolean }) => {
      const { Run } = await sdk();
      const r = await Run.get(await ctx.workspace(), id);
      const metrics = await r.getMetrics();
      if (opts.json) return ctx.json({ ...r.info, metrics });
      const i = r.info;
      ctx.out(`run: ${i.id}`);
      ctx.out(`experiment: ${i.experiment} #${i.number}`);
      ctx.out(`status: ${i.status}${i.exitCode !== null ? ` (exit code ${i.exitCode})` : ""}`);
      if (i.error) {
        // The message's own lines (a build's step output) stay lines, indented under it.
        const [first = "", ...rest] = i.error.message.trim().split("\n");
        ctx.out(`error: ${first} [${i.error.code}]`);
        if (rest.length) ctx.out(rest.map((l) => `  ${l}`).join("\n"));
      }
      ctx.out(
        `environment: ${i.environment.name} version ${i.environment.version} (${i.environment.definitionHash})${i.environment.lock ? " with a lock" : ""}`,
      );
      ctx.out(`script: ${sanitize([i.script, ...i.arguments].join(" "))}`);
      if (i.network) ctx.out("network: yes (asked for)");
      if (i.gpus?.count)
        ctx.out(
          `gpus: ${i.gpus.count}${i.gpus.share ? " (shared)" : ""}${i.gpus.devices.length ? `, given ${i.gpus.devices.join(",")}` : ""}`,
        );
      for (const [name, values] of Object.entries(metrics))
        ctx.out(`metric ${sanitize(name)}: ${JSON.stringify(values.at(-1))} (${values.length} values)`);
      for (const a of i.artifacts) ctx.out(`output: ${sanitize(a.path)} (${a.size} bytes)`);
    });

  run
    .command("download")
    .description("Save an output file of a run, e.g. outputs/model.json")
    .argument("<id>", "the run id")
    .argument("<path>", "the artifact path")
    .option("-o, --output <file>", "where to write it (default: its base name)")
    .option("--json", "print JSON")
    .action(async (id: string, path: string, opts: { output?: string; json?: boolean }) => {
      const progress = ctx.progress(`downloading ${path}`);
      let bytes: Uint8Array;
      try {
        bytes = await (await runs()).artifact(id, path);
      } finally {
        progress.done();
      }
      const target = ctx.path(opts.output ?? basename(path));
      writeFileSync(target, bytes);
      if (opts.json) return ctx.json({ run: id, path, size: bytes.length, output: target });
      ctx.out(`Saved ${path} (${bytes.length} bytes) to ${target}`);
    });

  run
    .command("cancel")
    .description("Cancel a run: a queued one never starts, a running one has its process tree stopped")
    .argument("<id>", "the run id")
    .option("--json", "print the run as JSON")
    .action(async (id: string, opts: { json?: boolean }) => {
      const { Run } = await sdk();
      const r = await (await Run.get(await ctx.workspace(), id)).cancel();
      if (opts.json) return ctx.json(r);
      ctx.out(`Run ${r.id} is ${r.status}`);
    });

  const model = program
    .command("model")
    .description("Models: files registered from run outputs or from local files, versioned.");

  model
    .command("register")
    .description(
      "Register a model from a run's output (--run ID --path outputs/model.json) or from local files (--file)",
    )
    .requiredOption("-n, --name <name>", "the model name")
    .option("--run <id>", "the run whose output to register")
    .option("--path <path>", "the artifact path in the run (a file or folder under outputs/)")
    .option("--file <files...>", "local files to register")
    .option("--description <text>", "a description")
    .option("--json", "print JSON")
    .action(
      async (opts: {
        name: string;
        run?: string;
        path?: string;
        file?: string[];
        description?: string;
        json?: boolean;
      }) => {
        const { Model, Run } = await sdk();
        const ws = await ctx.workspace();
        let m: Model;
        if (opts.run) {
          if (!opts.path)
            throw new CliError("E_USAGE", "Expected --path with --run, e.g. --path outputs/model.json");
          m = await (await Run.get(ws, opts.run)).registerModel(
            opts.name,
            opts.path,
            opts.description !== undefined ? { description: opts.description } : {},
          );
        } else if (opts.file?.length) {
          const files = opts.file.map((f) => {
            const p = ctx.path(f);
            if (!existsSync(p) || !statSync(p).isFile())
              throw new CliError("E_USAGE", `Expected --file to name a file; ${sanitize(p)} is not one`);
            return { path: basename(p), content: new Uint8Array(readFileSync(p)) };
          });
          m = await Model.register(ws, {
            name: opts.name,
            files,
            ...(opts.description !== undefined ? { description: opts.description } : {}),
          });
        } else {
          throw new CliError("E_USAGE", "Expected --run ID --path outputs/model.json, or --file model.pkl");
        }
        if (opts.json) return ctx.json({ created: m.created, model: m.info });
        ctx.out(
          `${m.created === false ? "Unchanged" : "Registered"}: model ${m.name} version ${m.version} (${m.info.files.length} file(s))`,
        );
      },
    );

  model
    .command("download")
    .description("Save the files of a model version (default latest) into a folder")
    .requiredOption("-n, --name <name>", "the model name")
    .option("-v, --version <n>", "the version (default: the latest)", parseVersion)
    .requiredOption("-d, --directory <dir>", "folder to write the files into")
    .option("--overwrite", "replace files that exist")
    .option("--json", "print JSON")
    .action(
      async (opts: {
        name: string;
        version?: number;
        directory: string;
        overwrite?: boolean;
        json?: boolean;
      }) => {
        const { Model } = await sdk();
        const m = await Model.get(await ctx.workspace(), opts.name, opts.version);
        const dir = ctx.path(opts.directory);
        const targets = m.info.files.map((f) => {
          const target = resolve(dir, f.path);
          if (!target.startsWith(dir + sep))
            throw new CliError(
              "E_BAD_RESPONSE",
              `Expected a model file path inside the folder; received ${sanitize(f.path)}`,
            );
          if (existsSync(target) && !opts.overwrite)
            throw new CliError("E_EXISTS", `${sanitize(target)} exists; pass --overwrite to replace it`);
          return target;
        });
        const progress = ctx.progress(`downloading model ${opts.name} version ${m.version}`);
        let files: Awaited<ReturnType<typeof m.download>>;
        try {
          files = await m.download();
        } finally {
          progress.done();
        }
        files.forEach((f, i) => {
          mkdirSync(dirname(targets[i]!), { recursive: true });
          writeFileSync(targets[i]!, f.content);
        });
        const size = files.reduce((n, f) => n + f.content.length, 0);
        if (opts.json)
          return ctx.json({
            name: m.name,
            version: m.version,
            directory: dir,
            files: files.map((f) => f.path),
            size,
          });
        ctx.out(
          `Saved model ${m.name} version ${m.version} (${files.length} file(s), ${size} bytes) to ${opts.directory}`,
        );
      },
    );

  listCommand(model, ctx, {
    description: "The latest version of each model, or every version of one (-n)",
    options: (c) => c.option("-n, --name <name>", "only this model, every version"),
    fetch: async (opts: { name?: string }) => ({ items: await (await runs()).listModels(opts.name) }),
    columns: [
      { header: "name", value: (m) => m.name },
      { header: "version", value: (m) => m.version },
      { header: "files", value: (m) => m.files.map((f) => f.path).join(",") },
      { header: "run", value: (m) => m.runId },
      { header: "created", value: (m) => m.createdAt },
    ],
  });

  const service = program
    .command("service")
    .description("Local web services: an entry script (init/run) serving a model in an environment.");

  service
    .command("deploy")
    .description(
      "Deploy a model as a web service on 127.0.0.1: POST /score runs the entry script's run(raw_data)",
    )
    .requiredOption("-n, --name <name>", "the service name, e.g. churn-scoring")
    .requiredOption("--model <name[:version]>", "the registered model", parseNameVersion)
    .requiredOption(
      "--entry-script <path>",
      "the entry script, relative to the source directory, e.g. score.py",
    )
    .option("--source-dir <dir>", "the directory holding the entry script", ".")
    .option(
      "--target <target>",
      "local (a venv worker) or docker (a container of the environment's image)",
      "local",
    )
    .option(
      "--env <name[:version]>",
      "a registered environment (default: the default environment)",
      parseNameVersion,
    )
    .option(
      "--cpu-cores <n>",
      "CPU limit in cores, e.g. 0.5 (enforced on docker, recorded on local)",
      parseLimit,
    )
    .option(
      "--memory-gb <n>",
      "memory limit in GB of 2^30 bytes, e.g. 0.5 (enforced on docker, recorded on local)",
      parseLimit,
    )
    .option("--gpus <n>", "GPUs the service holds while it lives (fails when they are not free)", parseGpus)
    .option("--share-gpus", "let the service's GPUs be shared with runs/services that also share")
    .option("--no-wait", "return at once instead of waiting until the service is healthy")
    .option("--json", "print JSON")
    .action(
      async (opts: {
        cpuCores?: number;
        memoryGb?: number;
        gpus?: number;
        shareGpus?: boolean;
        name: string;
        model: { name: string; version?: number };
        entryScript: string;
        sourceDir: string;
        env?: { name: string; version?: number };
        target: string;
        wait: boolean;
        json?: boolean;
      }) => {
        if (opts.target !== "local" && opts.target !== "docker") {
          throw new CliError(
            "E_USAGE",
            `Expected --target local or docker; received ${sanitize(opts.target)}`,
          );
        }
        const [{ RunsClient, Webservice, isMlenvError }, { snapshotDirectory }] = await Promise.all([
          sdk(),
          import("@mlenv/sdk/node"),
        ]);
        const ws = await ctx.workspace();
        const client = new RunsClient(ws);
        const snap = await uploadSnapshot(ctx, client, snapshotDirectory(checkDir(ctx, opts.sourceDir)));
        const info = await client.deploy({
          name: opts.name,
          target: opts.target,
          ...(opts.cpuCores !== undefined || opts.memoryGb !== undefined || opts.gpus
            ? {
                deploymentConfig: {
                  ...(opts.cpuCores !== undefined ? { cpuCores: opts.cpuCores } : {}),
                  ...(opts.memoryGb !== undefined ? { memoryGb: opts.memoryGb } : {}),
                  ...(opts.gpus ? { gpus: opts.gpus, shareGpus: opts.shareGpus === true } : {}),
                },
              }
            : {}),
          model: opts.model,
          entryScript: opts.entryScript,
          snapshot: snap.id,
          environment: opts.env ?? null,
        });
        const svc = new Webservice(ws, info);
        if (opts.wait) {
          const progress = ctx.progress(`service ${opts.name} deploying`);
          try {
            await svc.waitForDeployment();
          } catch (e) {
            if (isMlenvError(e))
              throw new CliError(e.code, `${e.message}\n(see mlenv service logs ${opts.name})`, { cause: e });
            throw e;
          } finally {
            progress.done();
          }
        }
        if (opts.json) return ctx.json(svc.info);
        ctx.out(
          `Service ${svc.name} is ${svc.info.status}: model ${svc.info.model.name}:${svc.info.model.version}, environment ${svc.info.environment.name}:${svc.info.environment.version}`,
        );
        const { cpuCores, memoryGb } = svc.info.deploymentConfig ?? { cpuCores: null, memoryGb: null };
        if (cpuCores !== null || memoryGb !== null)
          ctx.out(
            `limits: ${cpuCores ?? "-"} CPU cores, ${memoryGb ?? "-"} GB memory (${svc.info.limitsEnforced ? "enforced" : "recorded, not enforced on this target"})`,
          );
        if (svc.scoringUri) ctx.out(`scoring URI: ${svc.scoringUri}`);
      },
    );

  listCommand(service, ctx, {
    description: "Services of the workspace",
    fetch: async () => ({ items: await (await runs()).listServices() }),
    columns: [
      { header: "name", value: (s) => s.name },
      { header: "status", value: (s) => s.status },
      { header: "model", value: (s) => `${s.model.name}:${s.model.version}` },
      { header: "environment", value: (s) => `${s.environment.name}:${s.environment.version}` },
      { header: "restarts", value: (s) => s.restarts },
      { header: "url", value: (s) => s.url },
    ],
  });

  service
    .command("logs")
    .description("A service's worker output and mlenv's notes (-f: follow)")
    .argument("<name>", "the service")
    .option(
      "-f, --follow",
      "keep printing as lines are written until the service fails or is deleted (or ^C)",
    )
    .option("--json", "print each log line as one JSON line ({stream, text, ...})")
    .action(async (name: string, opts: { follow?: boolean; json?: boolean }) => {
      const client = await runs();
      if (opts.follow) {
        // live (server-sent events) until the service fails or is deleted, or ^C
        for await (const e of client.followServiceLogs(name))
          if (e.type === "log") printLine(ctx, e.line, opts.json);
        return;
      }
      let after = 0;
      for (;;) {
        const page = await client.serviceLogs(name, after);
        for (const l of page.items) printLine(ctx, l, opts.json);
        after = page.next;
        if (page.items.length === 0) return;
      }
    });

  service
    .command("score")
    .description("POST a JSON body to a service's /score and print the answer")
    .argument("<name>", "the service")
    .requiredOption("--data <json>", "the request body, e.g. '{\"data\": [1, 2]}'")
    .option("--via-server", "send it through the mlenv server (when the service's port is not reachable)")
    .option("--json", "print the answer as one JSON document (it always is)")
    .action(async (name: string, opts: { data: string; viaServer?: boolean; json?: boolean }) => {
      const { RunsClient, Webservice } = await sdk();
      if (opts.viaServer) {
        const { status, body } = await new RunsClient(await ctx.workspace()).scoreService(name, opts.data);
        if (status >= 400) {
          const msg = (body as { error?: unknown })?.error;
          throw new CliError(
            "E_HTTP",
            `Service ${name} answered HTTP ${status}: ${String(msg ?? JSON.stringify(body))}`,
          );
        }
        return ctx.json(body);
      }
      const svc = await Webservice.get(await ctx.workspace(), name);
      ctx.json(await svc.run(opts.data));
    });

  service
    .command("delete")
    .description("Stop a service's worker and remove it")
    .argument("<name>", "the service")
    .option("--json", "print JSON")
    .action(async (name: string, opts: { json?: boolean }) => {
      const { Webservice } = await sdk();
      await (await Webservice.get(await ctx.workspace(), name)).delete();
      if (opts.json) return ctx.json({ name, deleted: true });
      ctx.out(`Deleted service ${name}`);
    });
}
