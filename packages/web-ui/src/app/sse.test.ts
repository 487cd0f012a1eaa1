import { describe, expect, it } from "vitest";
import { SseParser } from "./sse";

describe("SseParser", () => {
  it("parses events with ids, names and multi-line data, skipping comments", () => {
    const p = new SseParser();
    const events = p.push(
      ': keep-alive\n\nid: 1\nevent: log\ndata: {"seq":1}\n\nid: 2\nevent: log\ndata: a\ndata: b\n\nevent: end\ndata: {}\n\n',
    );
    expect(events).toEqual([
      { event: "log", data: '{"seq":1}', id: "1" },
      { event: "log", data: "a\nb", id: "2" },
      { event: "end", data: "{}", id: "2" },
    ]);
  });

  it("joins fields split across chunks and handles CRLF split between chunks", () => {
    const p = new SseParser();
    expect(p.push("id: 7\r\nevent: lo")).toEqual([]);
    expect(p.push("g\r\ndata: hel")).toEqual([]);
    expect(p.push("lo\r")).toEqual([]);
    expect(p.push("\n\r\n")).toEqual([{ event: "log", data: "hello", id: "7" }]);
  });

  it("defaults the event name to message and ignores events without data", () => {
    const p = new SseParser();
    expect(p.push("event: nothing\n\ndata:x\n\n")).toEqual([{ event: "message", data: "x", id: null }]);
  });
});
