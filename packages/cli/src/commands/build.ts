import type { ImageBuild } from "@mlenv/sdk";
import type { Command } from "commander";
import { type CliContext, CliError } from "../context";
import { parseVersion } from "./versionNumber";

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
  return lines;
}

/** The step a build log line starts (`Step 2/5 : RUN ...`, BuildKit's `#7 [2/5] RUN ...`). */
function stepOf(line: string): string | undefined {
  const m = /^Step (\d+\/\d+) : (.*)$/.exec(line) ?? /^#\d+ \[(?:[^\]]* )?(\d+\/\d+)\] (.*)$/.exec(line);
  return m ? `step ${m[1]} ${m[2]}` : undefined;
}

/**
 * `mlenv env build -n NAME [-v V] [--wait] [--show-output] [--json]` and
 * `mlenv env image -n NAME [-v V] [--json]` (added to the `env` group).
 */
export function register(program: Command, ctx: CliContext): void {
  const env =
    program.commands.find((c) => c.name() === "env") ??
    program.command("env").description("Environment definitions and the environment registry.");
  // The SDK loads when a command runs, not when the program is built.
  const sdk = () => import("@mlenv/sdk");

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
        const { buildEnvironment } = await sdk();
        const build = await buildEnvironment(
          await ctx.workspace(),
          opts.name,
          opts.version !== undefined ? { version: opts.version } : {},
        );
        if (!opts.json)
          ctx.note(`build ${build.id} ${build.coalesced ? "joined" : "queued"}: ${build.info.image}`);
        let failed: CliError | null = null;
        if (opts.wait || opts.showOutput) {
          // On a terminal: the build's status and current step, log lines received, elapsed time.
          const progress = ctx.progress(`build ${build.info.status}`);
          let lines = 0;
          let step: string | undefined;
          try {
            await build.waitForCompletion({
              raiseOnError: false,
              // The log is always followed (it drives the progress line); printed with --show-output.
              showOutput: true,
              output: (line: string) => {
                lines++;
                step = stepOf(line) ?? step;
                progress.update({
                  phase: "building",
                  detail: `${step ? `${step} · ` : ""}${lines} log line${lines === 1 ? "" : "s"}`,
                });
                // with --json the log goes to stderr, so stdout stays one JSON document
                if (opts.showOutput) (opts.json ? ctx.err : ctx.out)(line);
              },
            });
          } finally {
            progress.done();
          }
          if (build.status !== "succeeded") {
            const step = build.info.error?.step;
            failed = new CliError(
              build.info.error?.code ?? "E_BUILD_FAILED",
              `build ${build.id} ended ${build.status}${step?.index ? ` at step ${step.index}/${step.total ?? "?"} (${step.instruction ?? ""})` : ""}: ${build.info.error?.message.split("\n")[0] ?? ""}`,
            );
            // without the live log, show the failed step's output
            if (!opts.showOutput && !opts.json && step?.output) {
              ctx.err(step.output.trimEnd().split("\n").slice(-30).join("\n"));
            }
          }
        }
        if (opts.json) ctx.json({ ...build.info, coalesced: build.coalesced });
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
      const { BuildsClient } = await sdk();
      const d = await new BuildsClient(await ctx.workspace()).image(
        opts.name,
        opts.version !== undefined ? { version: opts.version } : {},
      );
      if (opts.json) return ctx.json(d);
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
        ctx.out(line);
      ctx.out("dockerfile:");
      ctx.out(
        (d.dockerfile ?? "-")
          .trimEnd()
          .split("\n")
          .map((line) => `  ${line}`)
          .join("\n"),
      );
    });
}
