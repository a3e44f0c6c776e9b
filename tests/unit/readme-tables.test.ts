// The README's input and output tables are the schemas' own: a property added or changed in a schema must show there.
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { RESOURCE_SCHEMAS } from "../../provider/schemas";
import { tableText } from "../../provider/schema";
import { markers, withTables } from "../../scripts/readme-tables";
import { REPO_ROOT } from "../../testing/repo";

describe("the README's tables", () => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  for (const schema of RESOURCE_SCHEMAS) {
    it(`${schema.resource}: the README shows the tables its schema gives (npm run docs writes them)`, () => {
      const [begin, end] = markers(schema);
      const shown = (text: string) => tableText(text.slice(text.indexOf(begin), text.indexOf(end)));
      expect(readme).to.include(begin).and.include(end);
      expect(shown(readme)).to.equal(shown(withTables(readme, [schema])));
    });
  }
  it("every input of every schema has a row", () => {
    for (const schema of RESOURCE_SCHEMAS) {
      for (const name of Object.keys(schema.inputs))
        expect(readme, `${schema.resource}.${name}`).to.include(`\`${name}\``);
    }
  });
});
