import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { makeTempDir, skipWithout } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { venvMissing } from "../../test/helpers";
import { FsBlobStore } from "../blobs/blobStore";
import { Registry } from "../environments/registry";
import { silentLogger } from "../logger";
import { openStore } from "../server";
import type { Store } from "../store/types";
import { storeSnapshot } from "./snapshot";
import { openRunSupport, type RunSupport } from "./support";

// a root server confines local runs with unshare; bubblewrap does it for others
const root = process.getuid?.() === 0;

describe.skipIf(skipWithout("python3-venv", venvMissing()) || (!root && skipWithout("root", "not root")))(
  "local runs have no network unless they ask (root server: unshare --net)",
  () => {
    const t = makeTempDir("mlenv-net-local-");
    let store: Store;
    let support: RunSupport;
    let workspaceId: string;
    const blobs = new FsBlobStore(join(t.path, "blobs"));
    beforeAll(async () => {
      store = await openStore({ dataDir: t.path });
      await new Registry({ store, blobs }).bootstrap(undefined);
      workspaceId = (await store.getWorkspace("default"))!.id;
      support = openRunSupport({ dataDir: t.path, store, blobs, logger: silentLogger });
      await support.start();
    });
    afterAll(async () => {
      await support?.close();
      await store?.close();
      t.cleanup();
    });

    it("cannot reach a loopback service of the host, yet reports metrics and outputs; with network: true it can", async () => {
      const probe = createServer((socket) => socket.end("secret"));
      await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
      const port = (probe.address() as AddressInfo).port;
      try {
        const script = [
          "import os, socket, sys, mlenv_run",
          "try:",
          "    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)",
          "    print('REACHED', s.recv(100).decode())",
          "except OSError as e:",
          "    print('BLOCKED', type(e).__name__)",
          "mlenv_run.log('probed', 1)",
          "os.makedirs('outputs', exist_ok=True)",
          "open('outputs/done.txt', 'w').write('ok')",
        ].join("\n");
        const snap = await storeSnapshot(
          blobs,
          workspaceId,
          [{ path: "probe.py", content: Buffer.from(script).toString("base64") }],
          1024 * 1024,
        );
        const runWith = async (network: boolean) => {
          const run = await support.runs.submit({
            workspaceId,
            createdBy: "t",
            experiment: "net",
            script: "probe.py",
            arguments: [String(port)],
            snapshot: snap.id,
            target: "local",
            environment: { definition: { name: "net-env" } },
            ...(network ? { network: true } : {}),
          });
          for (;;) {
            const r = await support.runStore.getRun(run.id);
            if (r && ["completed", "failed", "canceled"].includes(r.status)) {
              const text = (await support.runStore.logs(r.id)).map((l) => l.text).join("\n");
              return { r, text };
            }
            await new Promise((res) => setTimeout(res, 200));
          }
        };
        const closed = await runWith(false);
        expect(closed.r.status, closed.text).toBe("completed");
        expect(closed.text).toContain("network: none (its own empty network namespace)");
        expect(closed.text).toContain("BLOCKED");
        expect(closed.text).not.toContain("REACHED");
        // the callback is a unix socket: metrics arrive without network
        expect(await support.runStore.metrics(closed.r.id)).toMatchObject([{ name: "probed", value: 1 }]);
        expect(closed.r.artifacts.map((a) => a.path)).toEqual(["outputs/done.txt"]);
        const open = await runWith(true);
        expect(open.r.status, open.text).toBe("completed");
        expect(open.r.network).toBe(true);
        expect(open.text).toContain("REACHED secret");
        expect(await support.runStore.metrics(open.r.id)).toMatchObject([{ name: "probed", value: 1 }]);
      } finally {
        probe.close();
      }
    }, 300_000);
  },
);
