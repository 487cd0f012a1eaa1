import { existsSync, statSync } from "node:fs";
import type { Command } from "commander";
import { type CliContext, CliError } from "../context";
import { sanitize } from "../output";
import { listCommand } from "./listCommand";

// The SDK loads when a command runs, not when the program is built.
const sdk = () => import("@mlenv/sdk");

/** `mlenv compute` (targets) and `mlenv datastore`. */
export function register(program: Command, ctx: CliContext): void {
  const compute = program
    .command("compute")
    .description(
      "Compute targets: local and docker always exist; attach a Slurm cluster for runs beyond one machine.",
    );
  // The workspace's compute targets, through the SDK loaded on first use.
  const targets = async () => new (await sdk()).ComputeClient(await ctx.workspace());

  compute
    .command("attach")
    .description("Attach a cluster (admin); the server checks that it answers and that the partition exists")
    .argument("<kind>", "the kind of target: slurm")
    .requiredOption("--name <name>", 'the target\'s name, e.g. "gpu-cluster"')
    .requiredOption("--rest-url <url>", "slurmrestd: unix:/path/to/slurmrestd.sock or http://host:6820 (JWT)")
    .requiredOption("--shared-dir <dir>", "a directory the server and every node see at the same path")
    .requiredOption("--partition <name>", "the default partition of runs")
    .option("--qos <name>", "the default QoS")
    .option("--account <name>", "the default account")
    .option("--user <name>", "JWT: the Slurm user of the token")
    .option("--token-stdin", "JWT: read the token from standard input (kept as a workspace secret)")
    .option("--python <path>", "the base interpreter on the nodes (default /usr/bin/python3)")
    .option("--containers <runtime>", "run jobs in the run's image: docker (each node's Docker engine)")
    .option("--json", "print JSON")
    .action(
      async (
        kind: string,
        opts: {
          name: string;
          restUrl: string;
          sharedDir: string;
          partition: string;
          qos?: string;
          account?: string;
          user?: string;
          tokenStdin?: boolean;
          python?: string;
          containers?: string;
          json?: boolean;
        },
      ) => {
        if (kind !== "slurm")
          throw new CliError(
            "E_USAGE",
            `Expected the kind of target to be slurm; received ${sanitize(kind)}`,
          );
        let token: string | undefined;
        if (opts.tokenStdin) {
          if (!ctx.io.readStdin)
            throw new CliError("E_USAGE", "Expected the token on standard input; there is none");
          token = (await ctx.io.readStdin()).trim();
        }
        const t = await (await targets()).attachSlurm({
          name: opts.name,
          restUrl: opts.restUrl,
          sharedDir: opts.sharedDir,
          partition: opts.partition,
          ...(opts.qos ? { qos: opts.qos } : {}),
          ...(opts.account ? { account: opts.account } : {}),
          ...(opts.user ? { user: opts.user } : {}),
          ...(token ? { token } : {}),
          ...(opts.python ? { python: opts.python } : {}),
          // the server checks the value and names the setting when it refuses it
          ...(opts.containers ? { containers: opts.containers as "docker" } : {}),
        });
        if (opts.json) return ctx.json(t);
        ctx.out(
          `Attached ${t.kind} target ${t.name} (${t.settings?.restUrl}, partition ${t.settings?.partition})`,
        );
        ctx.out(`Submit with: mlenv run submit --target ${t.name} ...`);
      },
    );

  listCommand(compute, ctx, {
    description: "The workspace's compute targets",
    fetch: async () => ({ items: await (await targets()).list() }),
    columns: [
      { header: "name", value: (t) => t.name },
      { header: "kind", value: (t) => t.kind },
      { header: "endpoint", value: (t) => t.settings?.restUrl ?? "(built in)" },
      { header: "partition", value: (t) => t.settings?.partition ?? "" },
      { header: "shared dir", value: (t) => t.settings?.sharedDir ?? "" },
    ],
  });

  compute
    .command("show")
    .description("One compute target (its credentials are never shown)")
    .argument("<name>", "the target")
    .option("--json", "print JSON")
    .action(async (name: string, opts: { json?: boolean }) => {
      const t = await (await targets()).get(name);
      if (opts.json) return ctx.json(t);
      ctx.out(`name: ${t.name}`);
      ctx.out(`kind: ${t.kind}${t.builtIn ? " (built in)" : ""}`);
      for (const [k, v] of Object.entries(t.settings ?? {}))
        if (v !== null) ctx.out(`${k}: ${sanitize(String(v))}`);
      ctx.out(`credentials: ${t.credentials}`);
    });

  compute
    .command("detach")
    .description("Detach a compute target (admin); submitted runs keep being followed")
    .argument("<name>", "the target")
    .option("--json", "print JSON")
    .action(async (name: string, opts: { json?: boolean }) => {
      await (await targets()).detach(name);
      if (opts.json) return ctx.json({ name, detached: true });
      ctx.out(`Detached ${name}`);
    });

  const datastore = program
    .command("datastore")
    .description("Datastores: data a run names as an argument (ds://NAME/mount or ds://NAME/download)");

  datastore
    .command("create")
    .description(
      "Create a datastore (admin): --path for a directory every target reaches, --blob for versioned uploads",
    )
    .argument("<name>", 'e.g. "images"')
    .option("--path <dir>", "a directory every target reaches (e.g. on the cluster's shared file system)")
    .option("--blob", "versions uploaded to the server's blob store")
    .option("--json", "print JSON")
    .action(async (name: string, opts: { path?: string; blob?: boolean; json?: boolean }) => {
      if (!opts.path === !opts.blob)
        throw new CliError("E_USAGE", "Expected exactly one of --path <dir> or --blob");
      const { Datastore } = await sdk();
      const ws = await ctx.workspace();
      const d = opts.path
        ? await Datastore.registerDirectory(ws, { name, path: opts.path })
        : await Datastore.registerBlob(ws, { name });
      if (opts.json) return ctx.json(d.info);
      ctx.out(`Created ${d.info.kind} datastore ${d.name}${d.info.path ? ` (${d.info.path})` : ""}`);
    });

  datastore
    .command("upload")
    .description(
      "Upload a folder as a new version of a blob datastore (the same files give the same version)",
    )
    .argument("<name>", "the datastore")
    .argument("<dir>", "the folder")
    .option("--json", "print JSON")
    .action(async (name: string, dir: string, opts: { json?: boolean }) => {
      const path = ctx.path(dir);
      if (!existsSync(path) || !statSync(path).isDirectory())
        throw new CliError("E_USAGE", `Expected a folder to upload; ${sanitize(path)} is not one`);
      const [{ Datastore }, { snapshotDirectory }] = await Promise.all([sdk(), import("@mlenv/sdk/node")]);
      const d = await Datastore.get(await ctx.workspace(), name);
      const r = await d.upload(snapshotDirectory(path));
      if (opts.json) return ctx.json(r);
      ctx.out(
        `${r.created ? "Uploaded" : "Unchanged:"} ${name} version ${r.version.version} (${r.version.files.length} files, ${r.version.size} bytes)`,
      );
    });

  listCommand(datastore, ctx, {
    description: "The workspace's datastores",
    fetch: async () => {
      const { Datastore } = await sdk();
      return { items: (await Datastore.list(await ctx.workspace())).map((d) => d.info) };
    },
    columns: [
      { header: "name", value: (d) => d.name },
      { header: "kind", value: (d) => d.kind },
      { header: "path / latest version", value: (d) => d.path ?? String(d.latestVersion) },
    ],
  });
}

/**
 * A script argument naming a datastore: `ds://NAME/mount`, `ds://NAME@3/download`; other
 * arguments stay strings.
 */
export function datastoreArgument(
  arg: string,
): string | { datastore: string; mode: "mount" | "download"; version?: number } {
  const m = /^ds:\/\/([a-z][a-z0-9-]{0,31})(?:@([1-9]\d{0,8}))?\/(mount|download)$/.exec(arg);
  if (!m) {
    if (arg.startsWith("ds://"))
      throw new CliError(
        "E_USAGE",
        `Expected a datastore argument like ds://images/mount or ds://images@2/download; received ${sanitize(arg)}`,
      );
    return arg;
  }
  return {
    datastore: m[1]!,
    mode: m[3] as "mount" | "download",
    ...(m[2] ? { version: Number(m[2]) } : {}),
  };
}
