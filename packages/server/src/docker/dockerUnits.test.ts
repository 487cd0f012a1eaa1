import { describe, expect, it } from "vitest";
import { checkContextPath, contextTar } from "./buildContext";
import { BuildLogTracker } from "./buildLog";
import { demultiplex } from "./client";
import { parseDockerHost } from "./endpoint";
import { DockerBuildError, isDockerError } from "./errors";
import { parseImageReference, registryHost } from "./reference";

describe("parseDockerHost", () => {
  it("defaults to the unix socket", () => {
    expect(parseDockerHost(undefined)).toEqual({ kind: "unix", socketPath: "/var/run/docker.sock" });
    expect(parseDockerHost("")).toEqual({ kind: "unix", socketPath: "/var/run/docker.sock" });
  });
  it("reads unix:// and tcp:// addresses", () => {
    expect(parseDockerHost("unix:///tmp/d.sock")).toEqual({ kind: "unix", socketPath: "/tmp/d.sock" });
    expect(parseDockerHost("tcp://127.0.0.1:2376")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 2376 });
    expect(parseDockerHost("tcp://[::1]:2375")).toEqual({ kind: "tcp", host: "::1", port: 2375 });
    expect(parseDockerHost("tcp://localhost")).toEqual({ kind: "tcp", host: "localhost", port: 2375 });
  });
  it("rejects other schemes and relative sockets with E_DOCKER_HOST_INVALID", () => {
    for (const bad of [
      "ssh://me@host",
      "unix://relative.sock",
      "tcp://h:1/path",
      "npipe:////./pipe/docker",
    ]) {
      expect(() => parseDockerHost(bad)).toThrowError(
        expect.objectContaining({ code: "E_DOCKER_HOST_INVALID" }),
      );
    }
  });
});

describe("parseImageReference", () => {
  it("splits registry repository, tag and digest", () => {
    expect(parseImageReference("127.0.0.1:5000/mlenv/env_ab12:latest")).toEqual({
      repository: "127.0.0.1:5000/mlenv/env_ab12",
      tag: "latest",
      digest: null,
    });
    expect(parseImageReference("mlenv/base-cpu")).toEqual({
      repository: "mlenv/base-cpu",
      tag: null,
      digest: null,
    });
    const d = `sha256:${"a".repeat(64)}`;
    expect(parseImageReference(`reg.example:443/x/y@${d}`).digest).toBe(d);
  });
  it("refuses hostile references", () => {
    for (const bad of ["a b", "x;rm -rf /", "UPPER/case", "x/../y", "img:$(id)", "img\n", "../etc", ""]) {
      expect(() => parseImageReference(bad), bad).toThrowError(
        expect.objectContaining({ code: "E_DOCKER_REFERENCE_INVALID" }),
      );
    }
  });
  it("finds the registry host", () => {
    expect(registryHost("127.0.0.1:5000/mlenv/env_x")).toBe("127.0.0.1:5000");
    expect(registryHost("localhost/a")).toBe("localhost");
    expect(registryHost("mlenv/base-cpu")).toBeNull();
    expect(registryHost("python")).toBeNull();
  });
});

describe("build context", () => {
  it("refuses paths that escape or carry odd characters", () => {
    for (const bad of ["../x", "/etc/passwd", "a//b", "a/./b", "a b", "x\0", "a\\b", ""]) {
      expect(() => checkContextPath(bad), JSON.stringify(bad)).toThrowError(
        expect.objectContaining({ code: "E_DOCKER_CONTEXT_INVALID" }),
      );
    }
    expect(() => checkContextPath("wheels/pkg-1.0-py3-none-any.whl")).not.toThrow();
  });
  it("streams a deterministic tar", async () => {
    const files = { Dockerfile: new TextEncoder().encode("FROM x\n"), "a/b.txt": new Uint8Array([1, 2, 3]) };
    const read = async () => {
      const parts: Buffer[] = [];
      for await (const c of contextTar(files)) parts.push(c as Buffer);
      return Buffer.concat(parts);
    };
    const one = await read();
    const two = await read();
    expect(one.equals(two)).toBe(true);
    expect(one.toString("latin1")).toContain("a/b.txt");
    expect(one.length % 512).toBe(0);
  });
});

describe("BuildLogTracker", () => {
  it("splits lines, tracks steps and cached steps, and names the failed step with its output", () => {
    const lines: { step: number | null; text: string }[] = [];
    const t = new BuildLogTracker((l) => lines.push(l));
    t.handle({ stream: "Step 1/3 : FROM base\n" });
    t.handle({ stream: " ---> 1234\nStep 2/3 : RUN echo hi" });
    t.handle({ stream: "\n ---> Using cache\n" });
    t.handle({ stream: "Step 3/3 : RUN false\n" });
    t.handle({ stream: " ---> Running in abc\nboom: part" });
    t.handle({ stream: "ial line\n" });
    t.handle({
      errorDetail: { code: 1, message: "The command '/bin/sh -c false' returned a non-zero code: 1" },
      error: "The command '/bin/sh -c false' returned a non-zero code: 1",
    });
    t.end();
    expect(t.steps).toEqual([
      { index: 1, instruction: "FROM base", cached: false },
      { index: 2, instruction: "RUN echo hi", cached: true },
      { index: 3, instruction: "RUN false", cached: false },
    ]);
    expect(lines.find((l) => l.text === "boom: partial line")?.step).toBe(3);
    const err = t.failure();
    expect(err).toBeInstanceOf(DockerBuildError);
    expect(isDockerError(err)).toBe(true);
    expect(err?.code).toBe("E_DOCKER_BUILD_FAILED");
    expect(err?.step.index).toBe(3);
    expect(err?.step.instruction).toBe("RUN false");
    expect(err?.step.output).toContain("boom: partial line");
    expect(err?.message).toContain("step 3/3");
    expect(err?.message).toContain("boom: partial line");
    expect(JSON.stringify(err)).not.toContain("stack");
  });
  it("strips the engine's ANSI colours from step output", () => {
    const lines: string[] = [];
    const t = new BuildLogTracker((l) => lines.push(l.text));
    t.handle({ stream: "\u001b[91mERROR: no such package\n\u001b[0m" });
    expect(lines).toEqual(["ERROR: no such package"]);
  });
  it("records the built image id", () => {
    const t = new BuildLogTracker();
    t.handle({ aux: { ID: "sha256:abc" } });
    expect(t.imageId).toBe("sha256:abc");
    expect(t.failure()).toBeNull();
  });
});

describe("demultiplex", () => {
  it("splits framed stdout and stderr", () => {
    const frame = (kind: number, text: string) => {
      const body = Buffer.from(text);
      const head = Buffer.alloc(8);
      head[0] = kind;
      head.writeUInt32BE(body.length, 4);
      return Buffer.concat([head, body]);
    };
    const out = demultiplex(Buffer.concat([frame(1, "a\n"), frame(2, "err\n"), frame(1, "b\n")]));
    expect(out).toEqual({ stdout: "a\nb\n", stderr: "err\n" });
  });
});
