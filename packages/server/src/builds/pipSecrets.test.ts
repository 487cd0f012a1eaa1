import { parseDefinition, renderDockerBuild } from "@mlenv/core";
import { describe, expect, it } from "vitest";
import {
  BuildSecretBroker,
  needsPipSecrets,
  type PipSecretsPayload,
  routePipThroughHelper,
} from "./pipSecrets";

const payload: PipSecretsPayload = {
  requirements: "six==1.16.0\n",
  wheels: [],
  env: { A: "s3cret" },
  redact: ["s3cret"],
};

describe("BuildSecretBroker", () => {
  it("answers a payload once, then 404; malformed and unknown nonces are 404", async () => {
    const broker = new BuildSecretBroker();
    broker.setBaseUrl("http://127.0.0.1:9/");
    const { url } = broker.issue(payload);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:9\/build-secrets\/v1\/[A-Za-z0-9_-]{43}$/);
    const app = broker.routes();
    const path = new URL(url).pathname;
    const first = await app.request(path);
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(await first.json()).toEqual(payload);
    expect((await app.request(path)).status).toBe(404);
    expect((await app.request("/build-secrets/v1/..%2F..%2Fetc")).status).toBe(404);
    expect((await app.request(`/build-secrets/v1/${"A".repeat(43)}`)).status).toBe(404);
    expect(broker.size).toBe(0);
  });

  it("forgets a payload when revoked or expired", async () => {
    const broker = new BuildSecretBroker();
    const revoked = broker.issue(payload);
    revoked.revoke();
    expect((await broker.routes().request(new URL(revoked.url).pathname)).status).toBe(404);
    const expiring = broker.issue(payload, { ttlMs: 20 });
    await new Promise((r) => setTimeout(r, 60));
    expect((await broker.routes().request(new URL(expiring.url).pathname)).status).toBe(404);
    expect(broker.size).toBe(0);
  });
});

describe("routePipThroughHelper", () => {
  const definition = (pip: string[]) =>
    parseDefinition({
      name: "x",
      docker: { baseImage: "local/base:1" },
      python: { condaDependencies: { dependencies: ["python=3.11", { pip }] } },
    });

  it("knows which requirements need it", () => {
    expect(needsPipSecrets("six==1.16.0\n--index-url http://h/simple/\n")).toBe(false);
    expect(needsPipSecrets(`mlenv+wheel://default/a_b-1.0-py3-none-any.whl#sha256=${"a".repeat(64)}\n`)).toBe(
      true,
    );
    const secretLine = ["--extra-index-url https://ci:$", "{MLENV_SECRET_CORP}@h/simple/\n"].join("");
    expect(needsPipSecrets(secretLine)).toBe(true);
  });

  it("runs pip through the helper, keeping requirements.txt and the pip flags as rendered", () => {
    const build = renderDockerBuild(definition(["six==1.16.0"]), { condaExecutable: null });
    const files = routePipThroughHelper(build.context);
    const dockerfile = new TextDecoder().decode(files.Dockerfile);
    expect(dockerfile).toContain(
      "COPY mlenv_pip.py /tmp/mlenv/mlenv_pip.py\nARG MLENV_PIP_SECRETS_URL\nRUN /opt/mlenv/venv/bin/python /tmp/mlenv/mlenv_pip.py /opt/mlenv/venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check -r /tmp/mlenv/requirements.txt",
    );
    expect(dockerfile).not.toMatch(/^RUN \/opt\/mlenv\/venv\/bin\/python -m pip/m);
    expect(files["requirements.txt"]).toEqual(build.context["requirements.txt"]);
    expect(new TextDecoder().decode(files["mlenv_pip.py"])).toContain("MLENV_PIP_SECRETS_URL");
  });

  it("refuses a Dockerfile without core's pip step rather than build without the secrets", () => {
    const files = { Dockerfile: new TextEncoder().encode("FROM x\nRUN pip install -r other.txt\n") };
    expect(() => routePipThroughHelper(files)).toThrow(/Expected the rendered Dockerfile to install/);
  });
});
