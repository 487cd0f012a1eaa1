import { CodedError, type CodedErrorJSON, preview } from "@mlenv/core";

/** Error codes of the Docker Engine API client. Recognise errors by `code`. */
export const DockerErrorCode = {
  HOST_INVALID: "E_DOCKER_HOST_INVALID",
  UNREACHABLE: "E_DOCKER_UNREACHABLE",
  API: "E_DOCKER_API",
  NOT_FOUND: "E_DOCKER_NOT_FOUND",
  REFERENCE_INVALID: "E_DOCKER_REFERENCE_INVALID",
  CONTEXT_INVALID: "E_DOCKER_CONTEXT_INVALID",
  BUILD_FAILED: "E_DOCKER_BUILD_FAILED",
  PUSH_FAILED: "E_DOCKER_PUSH_FAILED",
  ABORTED: "E_DOCKER_ABORTED",
  TIMEOUT: "E_DOCKER_TIMEOUT",
} as const;

export type DockerErrorCode = (typeof DockerErrorCode)[keyof typeof DockerErrorCode];

/** Cut a received value to at most `max` characters for an error message. */
export const cut = preview;

/** Where a failed build stopped: the step (1-based) and the output that step printed. */
export interface FailedStep {
  /** 1-based step number, or null when the build failed before its first step. */
  index: number | null;
  total: number | null;
  /** The instruction as the engine printed it, e.g. `RUN pip install foo`. */
  instruction: string | null;
  /** What the step printed (its last 64 KiB). */
  output: string;
}

/** Base class of every error the Docker client raises. */
export class DockerError extends CodedError<DockerErrorCode> {
  override readonly name: string = "DockerError";
  /** HTTP status of the engine's answer, when there was one. */
  readonly status: number | undefined;

  constructor(code: DockerErrorCode, message: string, options: { cause?: unknown; status?: number } = {}) {
    super(code, message, options);
    this.status = options.status;
  }

  /** A sanitised form for logs and HTTP bodies: no stack, no cause. */
  override toJSON(): CodedErrorJSON {
    return { ...super.toJSON(), status: this.status };
  }
}

/** A build the engine ran and that failed at one step. */
export class DockerBuildError extends DockerError {
  override readonly name = "DockerBuildError";
  readonly step: FailedStep;
  /** The engine's own error message, e.g. "The command '/bin/sh -c false' returned a non-zero code: 1". */
  readonly engineMessage: string;

  constructor(engineMessage: string, step: FailedStep, options: { cause?: unknown } = {}) {
    const where =
      step.index === null
        ? "before its first step"
        : `at step ${step.index}/${step.total ?? "?"} (${cut(step.instruction ?? "", 120)})`;
    const tail = step.output.trim().split("\n").slice(-15).join("\n");
    super(
      DockerErrorCode.BUILD_FAILED,
      `image build failed ${where}: ${cut(engineMessage)}${tail ? `\nstep output (last lines):\n${tail}` : ""}`,
      options,
    );
    this.step = step;
    this.engineMessage = engineMessage;
  }

  override toJSON(): CodedErrorJSON {
    return { ...super.toJSON(), step: this.step, engineMessage: this.engineMessage };
  }
}

/** Recognise a DockerError by its code (also across package copies). */
export function isDockerError(value: unknown): value is DockerError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { code?: unknown }).code === "string" &&
    (value as { code: string }).code.startsWith("E_DOCKER_")
  );
}
