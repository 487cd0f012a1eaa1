import { request as httpRequest, type IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { type DockerEndpoint, describeEndpoint } from "./endpoint";
import { cut, DockerError, DockerErrorCode } from "./errors";

/** Engine API version every path is pinned to (Docker 20.10 and later serve it). */
export const DOCKER_API_VERSION = "1.41";

export interface DockerRequest {
  method: "GET" | "POST" | "DELETE" | "HEAD" | "PUT";
  /** API path without the version prefix, e.g. `/images/foo/json`. Callers encode path segments. */
  path: string;
  query?: Record<string, string | number | boolean | string[] | undefined>;
  headers?: Record<string, string>;
  /** A JSON value (sent as application/json), raw bytes, or a readable stream (e.g. a tar). */
  body?: { json: unknown } | { bytes: Uint8Array; type: string } | { stream: Readable; type: string };
  signal?: AbortSignal;
}

/** The engine's answer: status, headers and the body still to read. */
export interface DockerResponse {
  status: number;
  headers: IncomingMessage["headers"];
  body: IncomingMessage;
}

/** Send one request to the engine; resolves once the response headers arrive. */
export function sendRequest(endpoint: DockerEndpoint, req: DockerRequest): Promise<DockerResponse> {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query ?? {})) {
    if (Array.isArray(v)) for (const item of v) search.append(k, item);
    else if (v !== undefined) search.set(k, String(v));
  }
  const qs = search.toString();
  const path = `/v${DOCKER_API_VERSION}${req.path}${qs ? `?${qs}` : ""}`;
  const headers: Record<string, string> = { ...req.headers };
  let payload: Uint8Array | undefined;
  let stream: Readable | undefined;
  if (req.body && "json" in req.body) {
    payload = new TextEncoder().encode(JSON.stringify(req.body.json));
    headers["content-type"] = "application/json";
  } else if (req.body && "bytes" in req.body) {
    payload = req.body.bytes;
    headers["content-type"] = req.body.type;
  } else if (req.body && "stream" in req.body) {
    stream = req.body.stream;
    headers["content-type"] = req.body.type;
  }
  if (payload) headers["content-length"] = String(payload.byteLength);

  return new Promise<DockerResponse>((resolve, reject) => {
    if (req.signal?.aborted) {
      reject(abortError(req.signal));
      return;
    }
    const target =
      endpoint.kind === "unix"
        ? { socketPath: endpoint.socketPath }
        : { host: endpoint.host, port: endpoint.port };
    const r = httpRequest({
      ...target,
      method: req.method,
      path,
      headers,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    r.on("response", (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }));
    r.on("error", (cause) => {
      if (req.signal?.aborted) reject(abortError(req.signal));
      else
        reject(
          new DockerError(
            DockerErrorCode.UNREACHABLE,
            `could not reach the Docker engine at ${describeEndpoint(endpoint)} (${req.method} ${req.path}): ${cause.message}`,
            { cause },
          ),
        );
    });
    if (stream) {
      stream.on("error", (cause) => r.destroy(cause));
      stream.pipe(r);
    } else {
      r.end(payload);
    }
  });
}

/** The error an aborted request rejects with: TIMEOUT when the signal's reason is a timeout. */
export function abortError(signal: AbortSignal): DockerError {
  const reason: unknown = signal.reason;
  if (reason instanceof DockerError) return reason;
  const isTimeout = reason instanceof Error && reason.name === "TimeoutError";
  return new DockerError(
    isTimeout ? DockerErrorCode.TIMEOUT : DockerErrorCode.ABORTED,
    isTimeout ? "the Docker operation timed out" : "the Docker operation was cancelled",
    { cause: reason },
  );
}

/** Read a whole body as text. */
export async function readText(res: DockerResponse, signal?: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
  } catch (cause) {
    if (signal?.aborted) throw abortError(signal);
    throw new DockerError(DockerErrorCode.UNREACHABLE, "the Docker engine closed the connection mid-answer", {
      cause,
    });
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Raise a DockerError for a non-2xx answer, with the engine's message. */
export async function expectOk(res: DockerResponse, what: string, signal?: AbortSignal): Promise<void> {
  if (res.status >= 200 && res.status < 300) return;
  const text = await readText(res, signal);
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string") message = parsed.message;
  } catch {
    // not JSON: keep the text
  }
  throw new DockerError(
    res.status === 404 ? DockerErrorCode.NOT_FOUND : DockerErrorCode.API,
    `${what}: the engine answered ${res.status}: ${cut(message.trim())}`,
    { status: res.status },
  );
}

/** Read a JSON body after checking the status. */
export async function readJson<T>(res: DockerResponse, what: string, signal?: AbortSignal): Promise<T> {
  await expectOk(res, what, signal);
  const text = await readText(res, signal);
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new DockerError(
      DockerErrorCode.API,
      `${what}: expected JSON from the engine, received ${cut(text)}`,
      {
        cause,
      },
    );
  }
}

/**
 * Call `onMessage` for every JSON object of a newline-delimited JSON stream (build and push
 * progress). Lines that are not JSON are reported as `{ stream: line }`.
 */
export async function readJsonLines(
  res: DockerResponse,
  onMessage: (message: Record<string, unknown>) => void,
  signal?: AbortSignal,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  const flush = (line: string) => {
    if (line.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = { stream: `${line}\n` };
    }
    if (typeof parsed === "object" && parsed !== null) onMessage(parsed as Record<string, unknown>);
  };
  try {
    for await (const chunk of res.body) {
      buffered += decoder.decode(chunk as Buffer, { stream: true });
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        flush(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf("\n");
      }
    }
  } catch (cause) {
    if (signal?.aborted) throw abortError(signal);
    if (cause instanceof DockerError) throw cause;
    throw new DockerError(DockerErrorCode.UNREACHABLE, "the Docker engine closed the stream early", {
      cause,
    });
  }
  if (signal?.aborted) throw abortError(signal);
  flush(buffered + decoder.decode());
}
