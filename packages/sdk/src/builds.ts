import { builds as B, routePath } from "@mlenv/api";
import { MlenvError, SdkErrorCodes } from "./errors";
import { followLog, waitForLogEnd } from "./internal/followLog";
import type { FollowOptions, LogEvent, LogWaitOptions } from "./logStream";
import type { Workspace } from "./workspace";

/** Where an image build is in its life. */
export type BuildStatus = B.BuildStatus;

/**
 * An image build job as the server shows it: `outcome.cacheHit` is true when no engine build ran
 * (the image existed); `error.step` names the Dockerfile step that failed and holds its output.
 */
export type BuildInfo = B.BuildJob;

/** One line of a build log (`seq` increases from 1; `step` is the Dockerfile step or null). */
export type BuildLogLine = B.BuildLogLine;

/** The image of an environment version, as the reference's image details show it. */
export type ImageDetails = B.ImageDetails;

/** Options of {@link ImageBuild.waitForCompletion}: `showOutput` streams the build log. */
export interface BuildWaitOptions extends LogWaitOptions {
  /** Throw `E_BUILD_FAILED` when the build ends failed or canceled (default true). */
  raiseOnError?: boolean;
}

/** Typed calls to a workspace's image builds. */
export class BuildsClient {
  constructor(readonly workspace: Workspace) {}

  /** Start (or join: `coalesced`) the image build of an environment version (default latest). */
  submit(
    name: string,
    selector: { version?: number; label?: string } = {},
  ): Promise<{ job: BuildInfo; coalesced: boolean }> {
    return this.workspace.call(B.submitBuild, { params: { name }, body: selector });
  }

  get(id: string): Promise<BuildInfo> {
    return this.workspace.call(B.getBuild, { params: { id } });
  }

  cancel(id: string): Promise<BuildInfo> {
    return this.workspace.call(B.cancelBuild, { params: { id } });
  }

  /** Stored log lines after line `after`. */
  logs(id: string, after = 0): Promise<{ status: BuildStatus; items: BuildLogLine[] }> {
    return this.workspace.call(B.buildLogs, { params: { id }, query: { format: "json", after } });
  }

  /** Image details of an environment version (default latest). */
  image(name: string, selector: { version?: number; label?: string } = {}): Promise<ImageDetails> {
    return this.workspace.call(B.environmentImage, {
      params: { name },
      query: { version: selector.version, label: selector.label },
    });
  }

  /**
   * The build log as it happens (server-sent events): every line after `after`, then the final
   * job. A dropped connection resumes where it stopped (`Last-Event-ID`).
   */
  follow(id: string, options: FollowOptions = {}): AsyncGenerator<LogEvent<BuildLogLine, "job", BuildInfo>> {
    return followLog(this.workspace, routePath(B.buildLogs, { id }), {
      ...options,
      what: "the build log stream",
      end: "job",
    });
  }
}

/** An image build started with {@link buildEnvironment} or `Environment.build`. */
export class ImageBuild {
  readonly #client: BuildsClient;
  info: BuildInfo;
  /** True when this request joined a build already queued or running for the same image. */
  readonly coalesced: boolean;

  constructor(workspace: Workspace, info: BuildInfo, coalesced = false) {
    this.#client = new BuildsClient(workspace);
    this.info = info;
    this.coalesced = coalesced;
  }

  get id(): string {
    return this.info.id;
  }

  get status(): BuildStatus {
    return this.info.status;
  }

  /** A build by id. */
  static async get(workspace: Workspace, id: string): Promise<ImageBuild> {
    return new ImageBuild(workspace, await new BuildsClient(workspace).get(id));
  }

  async refresh(): Promise<ImageBuild> {
    this.info = await this.#client.get(this.id);
    return this;
  }

  async cancel(): Promise<ImageBuild> {
    this.info = await this.#client.cancel(this.id);
    return this;
  }

  /** Log lines stored so far after line `after`. */
  getLogs(after = 0): Promise<{ status: BuildStatus; items: BuildLogLine[] }> {
    return this.#client.logs(this.id, after);
  }

  /**
   * Wait until the build is final, streaming its log live with `showOutput` (the reference's
   * `wait_for_completion(show_output=True)`). A failed build throws `E_BUILD_FAILED` naming the
   * failed step and its output, unless `raiseOnError: false`.
   */
  async waitForCompletion(options: BuildWaitOptions = {}): Promise<ImageBuild> {
    await waitForLogEnd((signal) => this.#client.follow(this.id, { signal }), {
      ...options,
      show: (e) => e.line.text,
      onEvent: (e) => {
        if (e.type === "end") this.info = e.job;
      },
      timeoutMessage: () =>
        `Expected build ${this.id} to finish within ${options.timeoutMs} ms; it is ${this.info.status}`,
    });
    if (!B.isFinalBuildStatus(this.info.status)) await this.refresh();
    if ((options.raiseOnError ?? true) && this.info.status !== "succeeded") {
      const err = this.info.error;
      const step = err?.step;
      throw new MlenvError(
        SdkErrorCodes.buildFailed,
        `Build ${this.id} ended ${this.info.status}${step?.index ? ` at step ${step.index}/${step.total ?? "?"} (${step.instruction ?? ""})` : ""}: ${err?.message ?? ""}`.trim(),
        { details: { build: this.id, status: this.info.status, error: err } },
      );
    }
    return this;
  }
}

/** Start the image build of a registered environment (default: its latest version). */
export async function buildEnvironment(
  workspace: Workspace,
  name: string,
  selector: { version?: number; label?: string } = {},
): Promise<ImageBuild> {
  const { job, coalesced } = await new BuildsClient(workspace).submit(name, selector);
  return new ImageBuild(workspace, job, coalesced);
}
