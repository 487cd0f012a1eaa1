import { BuildsClient, buildEnvironment, type ImageBuild } from "@mlenv/sdk";
import { workspaceFromConfig } from "@mlenv/sdk/node";
import { type Command, InvalidArgumentError } from "commander";
import { type CliContext, CliError } from "../context";
import { formatJson, sanitize } from "../output";

function parseVersion(v: string): number {
  if (!/^[1-9]\d{0,8}$/.test(v))
    throw new InvalidArgumentError(`expected a version number such as 1 or 2; received ${v}`);
  return Number(v);
}

function describeBuild(b: ImageBuild): string[] {
  const i = b.info;
  const lines = [
    `build:           ${i.id}`,
    `status:          ${i.status}`,
    `image:           ${i.image}`,
    `imageKey:        ${i.imageKey}`,
  ];
  if (b.coalesced) lines.push("coalesced:       true (joined a build already under way)");
  if (i.outcome) {
    lines.push(`cacheHit:        ${i.outcome.cacheHit}${i.outcome.cacheHit ? ` (${i.outcome.source})` : ""}`);
    lines.push(`digest:          ${i.outcome.digest ?? "-"}`);
    lines.push(`duration:        ${(i.outcome.durationMs / 1000).toFixed(1)} s`);
  }
  if (i.error) {
    const s = i.error.step;
    lines.push(`error:           ${i.error.code}: ${i.error.message.split("\n")[0]}`);
    if (s?.index) lines.push(`failed step:     ${s.index}/${s.total ?? "?"} ${s.instruction ?? ""}`);
  }
  return lines.map(sanitize);
}

/**
 * `mlenv env build -n NAME [-v V] [--wait] [--show-output] [--json]` and
 * `mlenv env image -n NAME [-v V] [--json]` (added to the `env` group).
 */
export function register(program: Command, ctx: CliContext): void {
  const env =
    program.commands.find((c) => c.name() === "env") ??
    program.command("env").description("Environment definitions and the environment registry.");
  const ws = () => workspaceFromConfig({ env: ctx.io.env });

  env
    .command("build")
    .description("Build the image of an environment version (latest or -v VERSION) on the server.")
    .requiredOption("-n, --name <name>", "environment name")
    .option("-v, --version <n>", "version number", parseVersion)
    .option("--wait", "wait until the build is final (exit 1 when it fails)")
    .option("--show-output", "stream the build log while waiting (implies --wait)")
    .option("--json", "print the build as JSON")
    .action(
      async (opts: {
        name: string;
        version?: number;
        wait?: boolean;
        showOutput?: boolean;
        json?: boolean;
      }) => {
        const build = await buildEnvironment(
          ws(),
          opts.name,
          opts.version !== undefined ? { version: opts.version } : {},
        );
        if (!opts.json)
          ctx.err(
            sanitize(`build ${build.id} ${build.coalesced ? "joined" : "queued"}: ${build.info.image}`),
          );
        let failed: CliError | null = null;
        if (opts.wait || opts.showOutput) {
          await build.waitForCompletion({
            raiseOnError: false,
            ...(opts.showOutput
              ? {
                  showOutput: true,
                  // with --json the log goes to stderr, so stdout stays one JSON document
                  output: (line: string) => (opts.json ? ctx.err : ctx.out)(sanitize(line)),
                }
              : {}),
          });
          if (build.status !== "succeeded") {
            const step = build.info.error?.step;
            failed = new CliError(
              build.info.error?.code ?? "E_BUILD_FAILED",
              `build ${build.id} ended ${build.status}${step?.index ? ` at step ${step.index}/${step.total ?? "?"} (${step.instruction ?? ""})` : ""}: ${build.info.error?.message.split("\n")[0] ?? ""}`,
            );
            // without the live log, show the failed step's output
            if (!opts.showOutput && !opts.json && step?.output) {
              for (const line of step.output.trimEnd().split("\n").slice(-30)) ctx.err(sanitize(line));
            }
          }
        }
        if (opts.json) ctx.out(formatJson({ ...build.info, coalesced: build.coalesced }));
        else for (const line of describeBuild(build)) ctx.out(line);
        if (failed) throw failed;
      },
    );

  env
    .command("image")
    .description(
      "Show the image of an environment version: exists, repository, registry, digest, Dockerfile.",
    )
    .requiredOption("-n, --name <name>", "environment name")
    .option("-v, --version <n>", "version number", parseVersion)
    .option("--json", "print JSON")
    .action(async (opts: { name: string; version?: number; json?: boolean }) => {
      const d = await new BuildsClient(ws()).image(
        opts.name,
        opts.version !== undefined ? { version: opts.version } : {},
      );
      if (opts.json) return ctx.out(formatJson(d));
      for (const line of [
        `name:            ${d.name}`,
        `version:         ${d.version}`,
        `exists:          ${d.exists}`,
        `repository:      ${d.repository}`,
        `registry:        ${d.registry ?? "-"}`,
        `digest:          ${d.digest ?? "-"}`,
        `imageKey:        ${d.imageKey}`,
        `local:           ${d.local}`,
      ])
        ctx.out(sanitize(line));
      ctx.out("dockerfile:");
      for (const line of (d.dockerfile ?? "-").trimEnd().split("\n")) ctx.out(sanitize(`  ${line}`));
    });
}
