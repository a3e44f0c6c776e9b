// npm run docs: writes each resource's input and output tables into the README from its schema, between its markers.
import * as fs from "node:fs";
import * as path from "node:path";
import { RESOURCE_SCHEMAS } from "../provider/schemas";
import { markdownTables, ResourceSchema } from "../provider/schema";

/** The README with each resource's tables replaced by the ones its schema gives. */
export function withTables(readme: string, schemas: readonly ResourceSchema[] = RESOURCE_SCHEMAS): string {
  let text = readme;
  for (const schema of schemas) {
    const [begin, end] = markers(schema);
    const from = text.indexOf(begin);
    const to = text.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md has no ${begin} ... ${end} for ${schema.resource}`);
    text = `${text.slice(0, from + begin.length)}\n\n${markdownTables(schema)}\n\n${text.slice(to)}`;
  }
  return text;
}

/** The comments that bound a resource's tables in the README. */
export function markers(schema: ResourceSchema): [string, string] {
  return [`<!-- tables:${schema.resource} -->`, `<!-- /tables:${schema.resource} -->`];
}

if (require.main === module) {
  const file = path.join(__dirname, "..", "..", "README.md");
  fs.writeFileSync(file, withTables(fs.readFileSync(file, "utf8")));
  console.log(`docs: wrote the tables of ${RESOURCE_SCHEMAS.map((s) => s.resource).join(", ")} into README.md`);
}
