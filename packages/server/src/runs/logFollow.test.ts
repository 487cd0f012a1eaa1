import { Run, RunsClient, Workspace } from "@mlenv/sdk";
import { skipWithout } from "@mlenv/test-utils";
import { useTestServer } from "@mlenv/test-utils/fixtures";
import { describe, expect, it } from "vitest";
import { snapshotFiles, venvMissing } from "../../test/helpers";
import { startServer } from "../server";

/** Prints `n` numbered lines, one every `gap` seconds. */
const SLOW = (n: number, gap: number) => `
import time
for i in range(1, ${n + 1}):
    print(f"line {i}", flush=True)
    time.sleep(${gap})
`;

interface Event {
  event: string;
  id: string | null;
  data: unknown;
  at: number;
}

/** Read a server-sent event stream until it ends or `until` says stop; events with their arrival time. */
async function readEvents(
  res: Response,
  until: (events: Event[]) => boolean = () => false,
): Promise<Event[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: Event[] = [];
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return events;
    buffer += value;
    for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const field = (name: string) =>
        block
          .split("\n")
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2) ?? null;
      const data = field("data");
      if (data === null) continue;
      events.push({
        event: field("event") ?? "message",
        id: field("id"),
        data: JSON.parse(data),
        at: Date.now(),
      });
      if (until(events)) {
        await reader.cancel();
        return events;
      }
    }
  }
}

describe.skipIf(skipWithout("python3-venv", venvMissing()))(
  "run logs followed live (server-sent events)",
  () => {
    const server = useTestServer(startServer);
    const { api } = server;

    async function submit(script: string): Promise<string> {
      const snap = await api("POST", "/api/v1/snapshots", { files: snapshotFiles({ "slow.py": script }) });
      expect(snap.status, JSON.stringify(snap.json)).toBe(201);
      const sub = await api("POST", "/api/v1/runs", {
        experiment: "follow",
        script: "slow.py",
        snapshot: snap.json.id,
      });
      expect(sub.status, JSON.stringify(sub.json)).toBe(201);
      return sub.json.id;
    }

    const follow = (id: string, headers: Record<string, string> = {}, query = "") =>
      fetch(`${server.url}/api/v1/runs/${id}/logs${query}`, {
        headers: { authorization: `Bearer ${server.token}`, accept: "text/event-stream", ...headers },
      });

    const printed = (events: Event[]) =>
      events
        .filter((e) => e.event === "log" && (e.data as { stream: string }).stream === "stdout")
        .map((e) => (e.data as { text: string }).text);

    it("streams lines while the run prints them, then one end event with the final run", async () => {
      const id = await submit(SLOW(6, 0.5));
      const res = await follow(id);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const events = await readEvents(res);
      const end = events.at(-1)!;
      expect(end.event).toBe("end");
      expect((end.data as { status: string }).status).toBe("completed");
      expect(printed(events)).toEqual(["line 1", "line 2", "line 3", "line 4", "line 5", "line 6"]);
      // live: the lines arrived over the run's ~3 s, not all at its end
      const first = events.find((e) => e.event === "log" && (e.data as { text: string }).text === "line 1")!;
      const last = events.find((e) => e.event === "log" && (e.data as { text: string }).text === "line 6")!;
      expect(last.at - first.at).toBeGreaterThan(1500);
      expect(end.at - first.at).toBeGreaterThan(2000);
      // every id is its line's seq, in order, and the JSON log holds exactly these lines
      const seqs = events.filter((e) => e.event === "log").map((e) => Number(e.id));
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      const json = await api("GET", `/api/v1/runs/${id}/logs`);
      expect(json.json.items.map((l: { seq: number }) => l.seq)).toEqual(seqs);
    }, 120_000);

    it("resumes after a disconnect with Last-Event-ID or ?after=: no line twice, none lost", async () => {
      const id = await submit(SLOW(8, 0.3));
      // drop the connection after the third printed line
      const part1 = await readEvents(await follow(id), (evs) => printed(evs).length === 3);
      expect(printed(part1)).toEqual(["line 1", "line 2", "line 3"]);
      const lastId = part1.filter((e) => e.event === "log").at(-1)!.id!;
      const part2 = await readEvents(await follow(id, { "last-event-id": lastId }));
      expect(part2.at(-1)?.event).toBe("end");
      const seqs = [...part1, ...part2].filter((e) => e.event === "log").map((e) => Number(e.id));
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      expect(printed([...part1, ...part2])).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => `line ${i}`));
      // ?follow=1 without an Accept header, resumed with ?after=: the same lines, then the end
      const rest = await readEvents(
        await fetch(`${server.url}/api/v1/runs/${id}/logs?follow=1&after=${lastId}`, {
          headers: { authorization: `Bearer ${server.token}` },
        }),
      );
      expect(rest.map((e) => e.id ?? e.event)).toEqual(part2.map((e) => e.id ?? e.event));
    }, 120_000);

    it("the SDK follows a run live and waitForCompletion streams its output", async () => {
      const ws = new Workspace({ url: server.url, token: server.token });
      const client = new RunsClient(ws);
      const id = await submit(SLOW(4, 0.4));
      const seen: { text: string; status: string }[] = [];
      let endStatus = "";
      for await (const e of client.followLogs(id)) {
        if (e.type === "end") endStatus = e.run.status;
        else if (e.line.stream === "stdout" && seen.length === 0)
          seen.push({ text: e.line.text, status: (await client.get(id)).status });
        else if (e.line.stream === "stdout") seen.push({ text: e.line.text, status: "" });
      }
      expect(endStatus).toBe("completed");
      // the first line reached us while the run was still running
      expect(seen[0]).toEqual({ text: "line 1", status: "running" });
      expect(seen.map((s) => s.text)).toEqual(["line 1", "line 2", "line 3", "line 4"]);
      const out: string[] = [];
      const run = await (await Run.get(ws, await submit(SLOW(2, 0.1)))).waitForCompletion({
        showOutput: true,
        output: (l) => out.push(l),
      });
      expect(run.status).toBe("completed");
      expect(out.filter((l) => l.startsWith("line"))).toEqual(["line 1", "line 2"]);
    }, 120_000);
  },
);
