import type { Kysely } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "./database";
import { PreparedQuery } from "./prepared";

type T = { items: { id: number; tag: string } };

describe("PreparedQuery", () => {
  const db = openDatabase({ sqliteFile: ":memory:" });
  const k = db.kysely.withTables<T>() as unknown as Kysely<T>;
  afterAll(() => db.close());

  it("compiles once per shape and binds each call's values", async () => {
    await db.all("CREATE TABLE items (id INTEGER PRIMARY KEY, tag TEXT NOT NULL)");
    await k
      .insertInto("items")
      .values([1, 2, 3, 4].map((id) => ({ id, tag: id % 2 ? "odd" : "even" })))
      .execute();
    let builds = 0;
    const q = new PreparedQuery(
      (shape: { tag: boolean }, v: { after: number; tag: string }) => {
        builds++;
        return k
          .selectFrom("items")
          .select("id")
          .where("id", ">", v.after)
          .$if(shape.tag, (s) => s.where("tag", "=", v.tag))
          .orderBy("id");
      },
      (shape) => String(shape.tag),
    );
    const ids = async (shape: { tag: boolean }, v: { after: number; tag: string }) =>
      (await k.executeQuery(q.bind(shape, v))).rows.map((r) => r.id);
    expect(await ids({ tag: false }, { after: 1, tag: "" })).toEqual([2, 3, 4]);
    expect(await ids({ tag: false }, { after: 2, tag: "" })).toEqual([3, 4]);
    expect(await ids({ tag: true }, { after: 0, tag: "odd" })).toEqual([1, 3]);
    expect(await ids({ tag: true }, { after: 1, tag: "even" })).toEqual([2, 4]);
    expect(builds).toBe(2);
  });

  it("refuses a value bound from outside its values (it would be fixed into every later call)", () => {
    const outside = 3;
    const q = new PreparedQuery(
      (_: object, v: { after: number }) =>
        k.selectFrom("items").select("id").where("id", ">", v.after).limit(outside),
      () => "",
    );
    expect(() => q.bind({}, { after: 1 })).toThrow(/bound from its values; received 3/);
  });
});
