import { randomBytes } from "node:crypto";
import { builds as B } from "@mlenv/api";
import { Hono } from "hono";
import type { BuildContextFiles } from "../docker/index";
import { mount } from "../http/mount";
import type { Store } from "../store/types";
import { isWheelReference } from "../wheels/reference";
import { referencedSecrets, resolveWheelReference, secretEnvironment } from "../wheels/resolve";
import { redactionForms } from "../wheels/secretPolicy";
import type { WheelSupport } from "../wheels/support";

/**
 * What the pip step of one build fetches once at run time: the requirements with every private
 * wheel swapped for a local file (the helper downloads it from its signed URL first), and the
 * environment pip needs for `${MLENV_SECRET_<NAME>}` index credentials.
 */
export interface PipSecretsPayload {
  /** requirements.txt; `@MLENV_WHEEL_DIR@` stands for the helper's download directory. */
  requirements: string;
  wheels: { url: string; filename: string; sha256: string }[];
  env: Record<string, string>;
  /** Strings the helper replaces with `***` in pip's output. */
  redact: string[];
}

/** Turns a rendered requirements.txt into a payload, or null when it references nothing private. */
export type PipSecretsSource = (input: {
  requirements: string;
  workspaceId: string | undefined;
}) => Promise<PipSecretsPayload | null>;

/** Build argument carrying the one-time URL of the payload. */
export const PIP_SECRETS_ARG = "MLENV_PIP_SECRETS_URL";
const WHEEL_DIR = "@MLENV_WHEEL_DIR@";
const REQUIREMENTS_PATH = "/tmp/mlenv/requirements.txt";
const HELPER_NAME = "mlenv_pip.py";

/** True when a requirements text names a private wheel or a workspace secret. */
export function needsPipSecrets(requirements: string): boolean {
  const lines = requirements.split("\n").map((l) => l.trim());
  return lines.some(isWheelReference) || referencedSecrets(lines).length > 0;
}

/**
 * The PipSecretsSource of a server: wheel references of the build's workspace become signed URLs
 * (valid `ttlSeconds`) and secret references the workspace's secret values.
 */
export function wheelPipSecrets(options: {
  store: Pick<Store, "listWorkspaces">;
  wheels: Pick<WheelSupport, "catalog" | "signer">;
  /** The server's own URL (signed URLs point at it); read at build time. */
  baseUrl: () => string;
  ttlSeconds?: number;
}): PipSecretsSource {
  return async ({ requirements, workspaceId }) => {
    if (!needsPipSecrets(requirements)) return null;
    const ws = workspaceId
      ? (await options.store.listWorkspaces()).find((w) => w.id === workspaceId)
      : undefined;
    if (!ws) {
      throw new Error(
        "Expected the build to belong to a workspace (private wheels and secrets are per workspace); received a build without one",
      );
    }
    const lines = requirements.split("\n");
    const out: string[] = [];
    const wheels: PipSecretsPayload["wheels"] = [];
    for (const line of lines) {
      if (!isWheelReference(line.trim())) {
        out.push(line);
        continue;
      }
      const r = await resolveWheelReference(line.trim(), {
        catalog: options.wheels.catalog,
        signer: options.wheels.signer,
        workspace: { id: ws.id, name: ws.name },
        baseUrl: options.baseUrl(),
        ttlSeconds: options.ttlSeconds ?? 3600,
      });
      wheels.push({ url: r.url, filename: r.filename, sha256: r.sha256 });
      out.push(`${r.name} @ file://${WHEEL_DIR}/${r.filename}#sha256=${r.sha256}`);
    }
    const env = await secretEnvironment(
      lines.map((l) => l.trim()),
      { catalog: options.wheels.catalog, workspaceId: ws.id },
    );
    return {
      requirements: out.join("\n"),
      wheels,
      env,
      // encoded and partial forms too (percent-encoded, base64, 8-character windows)
      redact: [...new Set([...Object.values(env).flatMap(redactionForms), ...wheels.map((w) => w.url)])]
        .filter((s) => s.length >= 4)
        .sort((a, b) => b.length - a.length),
    };
  };
}

/**
 * One-time payloads for running builds, served at `GET /build-secrets/v1/<nonce>` (256-bit
 * random nonce, answered once, gone after its time limit or when the build ends). The nonce is
 * the only thing the image history shows, and it is dead once the build ends.
 */
export class BuildSecretBroker {
  readonly #payloads = new Map<string, { payload: PipSecretsPayload; timer: NodeJS.Timeout }>();
  #baseUrl: string;

  constructor(options: { baseUrl?: string } = {}) {
    this.#baseUrl = options.baseUrl ?? "http://127.0.0.1";
  }

  /** The server's own URL (the build reaches it over host networking); set once it listens. */
  setBaseUrl(url: string): void {
    this.#baseUrl = url.replace(/\/+$/, "");
  }

  /** Store a payload; returns its one-time URL and a function that forgets it. */
  issue(payload: PipSecretsPayload, options: { ttlMs?: number } = {}): { url: string; revoke: () => void } {
    const nonce = randomBytes(32).toString("base64url");
    const timer = setTimeout(() => this.#payloads.delete(nonce), options.ttlMs ?? 60 * 60_000);
    timer.unref();
    this.#payloads.set(nonce, { payload, timer });
    return {
      url: `${this.#baseUrl}/build-secrets/v1/${nonce}`,
      revoke: () => {
        clearTimeout(timer);
        this.#payloads.delete(nonce);
      },
    };
  }

  /** The payload of a nonce, once; null for an unknown, used or expired nonce. */
  take(nonce: string): PipSecretsPayload | null {
    const entry = this.#payloads.get(nonce);
    if (!entry) return null;
    clearTimeout(entry.timer);
    this.#payloads.delete(nonce);
    return entry.payload;
  }

  /** Payloads not yet fetched (tests). */
  get size(): number {
    return this.#payloads.size;
  }

  /** The route the pip step fetches its payload from (mount at "/"). */
  routes(): Hono {
    const app = new Hono();
    mount(app, B.buildSecretPayload, ({ c, params: { nonce } }) => {
      const payload = /^[A-Za-z0-9_-]{43}$/.test(nonce) ? this.take(nonce) : null;
      if (!payload) {
        return c.json(
          {
            code: "E_NOT_FOUND",
            message: "Expected a live one-time build secret URL; this one is unknown, used or expired",
            details: {},
          },
          404,
        );
      }
      c.header("cache-control", "no-store");
      return c.json(payload);
    });
    return app;
  }
}

/**
 * Rewrite core's rendered context so pip runs through the helper: `requirements.txt` stays as
 * rendered (references and `${MLENV_SECRET_*}` names only), the helper fetches the payload from
 * the URL in the `MLENV_PIP_SECRETS_URL` build argument, downloads the wheels (checking sha256),
 * runs pip with the secrets in its environment only, filters them from its output, and deletes
 * everything it wrote before the layer is committed.
 */
export function routePipThroughHelper(files: BuildContextFiles): BuildContextFiles {
  const dockerfile = new TextDecoder().decode(files.Dockerfile);
  const lines = dockerfile.split("\n");
  const at = lines.findIndex((l) => /^RUN \S+ -m pip install .* -r \/tmp\/mlenv\/requirements\.txt$/.test(l));
  const m = at >= 0 ? /^RUN (\S+) (-m pip install .*)$/.exec(lines[at]!) : null;
  if (!m) {
    throw new Error(
      `Expected the rendered Dockerfile to install ${REQUIREMENTS_PATH} with "RUN <python> -m pip install ... -r ${REQUIREMENTS_PATH}"; received none, so private wheels and secrets cannot reach pip`,
    );
  }
  const python = m[1]!;
  lines.splice(
    at,
    1,
    `COPY ${HELPER_NAME} /tmp/mlenv/${HELPER_NAME}`,
    `ARG ${PIP_SECRETS_ARG}`,
    `RUN ${python} /tmp/mlenv/${HELPER_NAME} ${python} ${m[2]!}`,
  );
  return {
    ...files,
    Dockerfile: new TextEncoder().encode(lines.join("\n")),
    [HELPER_NAME]: new TextEncoder().encode(PIP_HELPER),
  };
}

/** Runs inside the build (python3 stdlib only). Arguments: the pip command to run. */
const PIP_HELPER = `# mlenv: fetch this build's one-time pip payload, then run pip (generated; holds no secret).
import hashlib, json, os, shutil, subprocess, sys, tempfile, urllib.request

url = os.environ.pop("${PIP_SECRETS_ARG}", "")
if not url:
    sys.exit("mlenv: ${PIP_SECRETS_ARG} is not set; build through the mlenv server")
try:
    with urllib.request.urlopen(url, timeout=60) as r:
        data = json.load(r)
except Exception as e:
    sys.exit("mlenv: could not fetch this build's pip payload (%s)" % type(e).__name__)
secrets = [s for s in data.get("redact", []) if s]

def clean(text):
    for s in secrets:
        text = text.replace(s, "***")
    return text

work = tempfile.mkdtemp(prefix="mlenv-pip-")
code = 1
try:
    for w in data.get("wheels", []):
        path = os.path.join(work, os.path.basename(w["filename"]))
        digest = hashlib.sha256()
        with urllib.request.urlopen(w["url"], timeout=600) as r, open(path, "wb") as f:
            for chunk in iter(lambda: r.read(1 << 16), b""):
                digest.update(chunk)
                f.write(chunk)
        if digest.hexdigest() != w["sha256"]:
            sys.exit("mlenv: %s did not match its sha256" % w["filename"])
        print("mlenv: fetched private wheel %s" % w["filename"], flush=True)
    req = os.path.join(work, "requirements.txt")
    with open(req, "w") as f:
        f.write(data["requirements"].replace("${WHEEL_DIR}", work))
    args = [req if a == "${REQUIREMENTS_PATH}" else a for a in sys.argv[1:]]
    env = dict(os.environ)
    env.update(data.get("env", {}))
    p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    for line in p.stdout:
        sys.stdout.write(clean(line))
        sys.stdout.flush()
    code = p.wait()
finally:
    shutil.rmtree(work, ignore_errors=True)
sys.exit(code)
`;
