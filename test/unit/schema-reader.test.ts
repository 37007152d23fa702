import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readSchemaBlocks } from "../../src/prisma/schema-blocks.ts";
import { readsColumn } from "../../src/prisma/generated-columns.ts";
import { schemaFingerprint } from "../../src/key/fingerprint.ts";
import { readSchema, readSchemaFacts } from "../../src/prisma/schema-reader.ts";

const SECOND = readFileSync(new URL("../schemas/second/prisma/schema.prisma", import.meta.url), "utf8");
const datasource = (provider = "postgresql") => `datasource db {\n  provider = "${provider}"\n}\n`;

describe("the schema reader (Prisma's parser)", () => {
  it("reads past Json defaults, strings and comments holding braces and quotes", () => {
    const facts = readSchemaFacts(`${datasource()}
// model Fake { id Int @id } with a } and a "
/// doc: } { "
model A {
  id    Int    @id
  meta  Json   @default("{}")
  motto String @default("} \\" // not a comment {")
  /// } closing brace in a doc comment
  bs    B[]
  email String @unique // a trailing } comment
}
model B {
  id  Int @id
  aId Int
  a   A   @relation(fields: [aId], references: [id], onDelete: Cascade)
  @@unique([aId, id])
}
`);
    expect([...facts.keys()]).toEqual(["A", "B"]);
    expect(facts.get("A")!.identities.map((identity) => identity.key)).toEqual(["id", "email"]);
    expect(facts.get("B")!.identities.map((identity) => identity.key)).toEqual(["id", "aId_id"]);
    expect(facts.get("B")!.foreignKeys.get("a")).toEqual(["aId"]);
    expect(facts.get("B")!.actions.get("a")).toEqual({ references: ["id"], onDelete: "Cascade", onUpdate: "Cascade" });
  });

  it("reads relations whose names and maps hold parentheses, brackets and braces", () => {
    const facts = readSchemaFacts(`${datasource()}
model A {
  id Int @id @map("a)id]")
  bs B[] @relation("we)i]rd{")
  @@map("table}name")
}
model B {
  id  Int @id
  aId Int @map("a_(id)")
  a   A   @relation("we)i]rd{", fields: [aId], references: [id], onDelete: Cascade, map: "fk)]}")
  @@unique([aId], map: "u)")
}
`);
    expect(facts.get("B")!.foreignKeys.get("a")).toEqual(["aId"]);
    expect(facts.get("B")!.actions.get("a")).toMatchObject({ onDelete: "Cascade" });
    expect(facts.get("B")!.identities.map((identity) => identity.key)).toEqual(["id", "aId"]);
  });

  it("names compound identities as Prisma's where input does, primary key first", () => {
    const facts = readSchemaFacts(`${datasource()}
model M {
  x Int
  y Int
  z Int @unique
  w Int
  @@unique([w, x], name: "byWx")
  @@unique([y, w])
  @@id([x, y], name: "pair")
}
model N {
  a Int
  b Int
  @@id([a, b])
}
`);
    expect(facts.get("M")!.identities.map(({ key, fields }) => ({ key, fields }))).toEqual([
      { key: "pair", fields: ["x", "y"] },
      { key: "z", fields: ["z"] },
      { key: "byWx", fields: ["w", "x"] },
      { key: "y_w", fields: ["y", "w"] },
    ]);
    expect(facts.get("N")!.identities.map((identity) => identity.key)).toEqual(["a_b"]);
  });

  it("reads every referential action, and Prisma's defaults where none is written", () => {
    const relation = (name: string, attributes: string, optional = false) =>
      `  ${name}Id Int${optional ? "?" : ""}\n  ${name} P${optional ? "?" : ""} @relation("${name}", fields: [${name}Id], references: [id]${attributes})\n`;
    const facts = readSchemaFacts(`${datasource()}
model P {
  id Int @id
  a C[] @relation("a")
  b C[] @relation("b")
  c C[] @relation("c")
  d C[] @relation("d")
  e C[] @relation("e")
  f C[] @relation("f")
}
model C {
  id Int @id
${relation("a", ", onDelete: Cascade, onUpdate: NoAction")}${relation("b", ", onDelete: SetNull, onUpdate: Restrict", true)}${relation("c", ", onDelete: Restrict, onUpdate: SetNull", true)}${relation("d", ", onDelete: NoAction, onUpdate: SetDefault")}${relation("e", "")}${relation("f", "", true)}}
`);
    const actions = Object.fromEntries([...facts.get("C")!.actions].map(([field, { onDelete, onUpdate }]) => [field, [onDelete, onUpdate]]));
    expect(actions).toEqual({
      a: ["Cascade", "NoAction"],
      b: ["SetNull", "Restrict"],
      c: ["Restrict", "SetNull"],
      d: ["NoAction", "SetDefault"],
      e: ["Restrict", "Cascade"],
      f: ["SetNull", "Cascade"],
    });
    expect(facts.get("P")!.foreignKeys.size).toBe(0);
  });

  it("reads the second test schema: @@map/@map, self-relations, a cycle, a view, native types", () => {
    const facts = readSchemaFacts(SECOND);
    expect([...facts.keys()].sort()).toEqual(["ActivePerson", "Badge", "Duty", "Event", "Membership", "Passport", "Person", "Player", "Racer", "Team", "Ticket", "Wallet"]);
    const person = facts.get("Person")!;
    expect(person.identities.map(({ key, kinds }) => [key, kinds])).toEqual([
      ["id", ["uuid"]],
      ["code", ["fixed-width"]],
      ["email", ["inexact"]],
    ]);
    expect(person.foreignKeys).toEqual(new Map([["manager", ["managerId"]], ["parent", ["parentId"]]]));
    expect(person.actions.get("manager")).toMatchObject({ onDelete: "SetNull", onUpdate: "Cascade" });
    expect(person.actions.get("parent")).toMatchObject({ onDelete: "Cascade", onUpdate: "Cascade" });
    expect(facts.get("Team")!.actions.get("captain")).toMatchObject({ onDelete: "SetNull" });
    expect(facts.get("Player")!.actions.get("team")).toMatchObject({ onDelete: "Cascade" });
    expect(facts.get("Membership")!.identities.map((identity) => identity.key)).toEqual(["personId_teamId"]);
    // A compound foreign key onto a compound primary key (what a nested connect of a membership rewrites).
    expect(facts.get("Duty")!.foreignKeys.get("membership")).toEqual(["personId", "teamId"]);
    expect(facts.get("Event")!.identities.map(({ key, kinds }) => [key, kinds])).toEqual([
      ["id", ["int32"]],
      ["at", ["instant"]],
      ["price", ["decimal"]],
      ["weight", ["float"]],
      ["labelAt", ["text", "instant"]],
    ]);
    // An enum's values by the names Prisma takes, not their @map names.
    expect(facts.get("Badge")!.identities.map(({ key, kinds }) => [key, kinds])).toEqual([
      ["id", ["int32"]],
      ["tier_rank", [{ enum: ["BRONZE", "SILVER", "GOLD"] }, "int32"]],
    ]);
    // Fields named like members every object inherits are fields like any other.
    expect(facts.get("Racer")!.identities.map(({ key, fields }) => [key, fields])).toEqual([
      ["id", ["id"]],
      ["constructor", ["constructor"]],
      ["toString_hasOwnProperty", ["toString", "hasOwnProperty"]],
    ]);
    expect(facts.get("ActivePerson")!.isView).toBe(true);
    expect(person.isView).toBe(false);
    // A generated column is rewritten by updates; a UUID drawn at insert is not.
    expect(facts.get("Ticket")!.rewrittenOnUpdate).toEqual(["codeKey"]);
    expect(person.rewrittenOnUpdate).toEqual([]);
  });

  it("names the identity fields an update may rewrite without naming them: generated columns (an expression reading a column) and @updatedAt, not insert-time defaults", () => {
    const facts = readSchemaFacts(`datasource db {
  provider = "postgresql"
}
model A {
  id       String   @id @default(dbgenerated("gen_random_uuid()")) @db.Uuid
  code     String
  lowered  String   @unique @default(dbgenerated("lower(code)"))
  slug     String   @unique @default(dbgenerated("(md5((code)::text))"))
  drawn    String   @unique @default(dbgenerated("uuid_generate_v4()::text"))
  named    String   @unique @default(dbgenerated("uuid_generate_v5('6ba7b810-9dad-11d1-80b4-00c04fd430c8'::uuid, code)"))
  nano     String   @unique @default(dbgenerated("public.nanoid()"))
  serial   Int      @unique @default(dbgenerated("nextval('a_serial_seq'::regclass)"))
  stamped  DateTime @unique @default(dbgenerated("CURRENT_TIMESTAMP"))
  counter  Int      @unique @default(autoincrement())
  made     String   @unique @default(uuid())
  total    Int      @default(dbgenerated("(1 + 1)"))
  touched  DateTime @updatedAt
  name     String
  handle   String?  @unique @default(dbgenerated())

  @@unique([name, touched])
}`);
    // \`total\` is generated but identifies nothing; \`touched\` is Prisma's, in a compound unique.
    // An immutable function of a column is a generated column's (outside probe 124); a function of nothing is drawn at insert;
    // \`dbgenerated()\` without an expression may be either: taken for a generated column (the README's advice for one).
    expect(facts.get("A")!.rewrittenOnUpdate).toEqual(["lowered", "slug", "named", "touched", "handle"]);
  });

  it("treats text as inexact where the database compares it case-insensitively", () => {
    const schema = (provider: string) => `${datasource(provider)}model U {\n  id Int @id\n  email String @unique\n}\n`;
    expect(readSchemaFacts(schema("postgresql")).get("U")!.identities[1]!.kinds).toEqual(["text"]);
    expect(readSchemaFacts(schema("mysql")).get("U")!.identities[1]!.kinds).toEqual(["inexact"]);
    expect(readSchemaFacts(schema("sqlserver")).get("U")!.identities[1]!.kinds).toEqual(["inexact"]);
  });

  it("treats money as inexact: the column rounds what it is compared with (outside probe 282)", () => {
    const schema = (provider: string, native: string) => `${datasource(provider)}model U {\n  id Int @id\n  amount Decimal @unique ${native}\n}\n`;
    expect(readSchemaFacts(schema("postgresql", "@db.Decimal(12, 2)")).get("U")!.identities[1]!.kinds).toEqual(["decimal"]);
    expect(readSchemaFacts(schema("postgresql", "@db.Money")).get("U")!.identities[1]!.kinds).toEqual(["inexact"]);
  });

  it("reads a schema whose generator names a preview feature this parser does not know (a newer Prisma)", () => {
    const facts = readSchemaFacts(`generator client {
  provider        = "prisma-client"
  previewFeatures = ["views", "aFeatureFromTheFuture"] // "}"
}
${datasource()}model A {
  id Int @id
}
view V {
  id Int @unique
}
`);
    expect(facts.get("A")!.identities.map((identity) => identity.key)).toEqual(["id"]);
    expect(facts.get("V")!.isView).toBe(true);
  });

  it("throws when Prisma's parser rejects the text (the cache then falls back to per-model invalidation)", () => {
    expect(() => readSchemaFacts(`${datasource()}model A {\n  id Int @id\n  b Missing\n}\n`)).toThrow();
  });
});

describe("the block scanner", () => {
  it("finds views and the provider, ignoring comments and strings", () => {
    const blocks = readSchemaBlocks(`// view Fake {
/// model Doc { "
datasource db {
  provider = "postgresql" // provider = "mysql"
}
model A {
  note String @default("view B { } \\" {")
}
view V {
  id Int @unique
}
`);
    expect(Object.fromEntries(blocks.kinds)).toEqual({ db: "datasource", A: "model", V: "view" });
    expect(blocks.provider).toBe("postgresql");
    expect(blocks.spans.map((span) => [span.keyword, span.name])).toEqual([["datasource", "db"], ["model", "A"], ["view", "V"]]);
    const source = `model A {\n  note String @default("}")\n}\n`;
    const [span] = readSchemaBlocks(source).spans;
    expect(source.slice(span!.start, span!.end)).toBe(source.trimEnd());
  });

  it("tells a generated column's expression (it reads a column) from a default's (it cannot); a column may bear a keyword's name (outside probe 129: `zone`)", () => {
    const columns = ["lower(code)", '(md5(("code")::text))', "uuid_generate_v5('6ba7b810-9dad-11d1-80b4-00c04fd430c8'::uuid, path)", "(first_name || ' ' || last_name)", "CAST(code AS varchar(20))", "(price * 100)::integer", "upper(`code`)", "to_char(created_at, 'YYYY')", "upper(zone)", "upper((zone)::text)", "lower(without)", "(double * 2)", "upper(varying)", "(at + 1)", "lower(\"user\")", "($$'$$ || zone || $$'$$)", "($tag$a$tag$ || code)"];
    const defaults = ["gen_random_uuid()", "uuid_generate_v4()::text", "nextval('a_seq'::regclass)", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP(3)", "now()", "public.nanoid()", "'x'::text", "(1 + 1)", "timezone('utc'::text, now())", "concat('code', 'path')", "(now() AT TIME ZONE 'utc'::text)", "'x'::character varying", "(CURRENT_TIMESTAMP)::timestamp(3) without time zone", "(random())::double precision", "ARRAY['a'::text]", "($$zone$$ || $x$code$x$)"];
    for (const expression of columns) expect(readsColumn(expression), expression).toBe(true);
    for (const expression of defaults) expect(readsColumn(expression), expression).toBe(false);
  });
});

describe("the schema fingerprint", () => {
  const base = `${datasource()}
enum Tier {
  BASIC
  PRO
}
model Account {
  id      Int     @id
  handle  String?
  tier    Tier    @default(BASIC)
  entries Entry[]
}
model Entry {
  id        Int     @id
  accountId Int
  account   Account @relation(fields: [accountId], references: [id], onDelete: Restrict)
}
`;
  // The runtime data model the client carries is the same for all of these (outside probe 189).
  const fingerprintOf = (schema: string) => schemaFingerprint({ models: {}, enums: {}, types: {} }, readSchema(schema).shape);

  it("changes with a unique, an optionality, an enum value or a referential action — what the runtime data model leaves out (outside probe 189)", () => {
    const variants = [
      base.replace("handle  String?", "handle  String? @unique"),
      base.replace("handle  String?", "handle  String"),
      base.replace("  PRO\n", "  PRO\n  ELITE\n"),
      base.replace("onDelete: Restrict", "onDelete: Cascade"),
      base.replace("  id      Int     @id\n  handle", "  id      Int     @id\n  @@unique([id, handle])\n  handle"),
    ];
    const fingerprints = new Set([base, ...variants].map(fingerprintOf));
    expect(fingerprints.size).toBe(variants.length + 1);
  });

  it("does not change with spellings of one schema: a `@map` or `@@map` naming what the name is, a one-field `@@id`, a default native type (outside probes 191, 197)", () => {
    // [what is written in place of the base's text, the same schema spelled otherwise or one that means another, the text replaced]
    const variants: Array<[string, string, string]> = [
      ["handle  String?", 'handle  String? @map("handle")', 'handle  String? @map("nick")'],
      ["entries Entry[]\n}", 'entries Entry[]\n  @@map("Account")\n}', 'entries Entry[]\n  @@map("accounts")\n}'],
      ["  id        Int     @id\n  accountId", "  id        Int\n  @@id([id])\n  accountId", '  id        Int\n  @@id([id], name: "entryKey")\n  accountId'],
      // Outside probe 197: an enum value's or an enum's own name mapped, a native type that is the default.
      ["  BASIC\n", '  BASIC @map("BASIC")\n', '  BASIC @map("basic")\n'],
      ["  PRO\n}", '  PRO\n  @@map("Tier")\n}', '  PRO\n  @@map("tiers")\n}'],
      ["  id      Int     @id\n  handle", "  id      Int     @id @db.Integer\n  handle", "  id      Int     @id @db.SmallInt\n  handle"],
      ["handle  String?", "handle  String? @db.Text", "handle  String? @db.VarChar(20)"],
    ];
    for (const [text, sameSchema, otherSchema] of variants) {
      expect(base).toContain(text);
      expect(fingerprintOf(base.replace(text, sameSchema)), sameSchema).toBe(fingerprintOf(base));
      expect(fingerprintOf(base.replace(text, otherSchema)), otherSchema).not.toBe(fingerprintOf(base));
    }
  });

  it("does not change with comments", () => {
    expect(fingerprintOf(base.replace("model Account {", "/// accounts of the shop\nmodel Account {\n  // a note"))).toBe(fingerprintOf(base));
  });
});
