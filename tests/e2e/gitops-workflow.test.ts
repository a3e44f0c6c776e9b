// examples/gitops's GitHub Actions workflow, checked by a real workflow linter: actionlint, built from its Go module
// by scripts/install-actionlint (cached like the Pulumi CLI). It must pass as written and fail on a broken copy.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { REPO_ROOT } from "../../testing/repo";
import { VERSIONS } from "../../testing/versions";

const run = promisify(execFile);
const WORKFLOW = path.join(REPO_ROOT, "examples", "gitops", ".github", "workflows", "kms-key-drift.yml");

interface Lint {
  code: number;
  output: string;
}

async function actionlint(binary: string, file: string): Promise<Lint> {
  try {
    const { stdout, stderr } = await run(binary, ["-no-color", file]);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as Error & { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("e2e: examples/gitops workflow", function () {
  this.timeout(15 * 60_000);
  let binary: string;
  let scratch: string;

  before(async () => {
    const { stdout } = await run(path.join(REPO_ROOT, "scripts", "install-actionlint"), [], { cwd: REPO_ROOT });
    binary = path.join(stdout.trim().split("\n").pop()!, "actionlint");
    const { stdout: version } = await run(binary, ["-version"]);
    expect(version.split("\n")[0]).to.equal(`v${VERSIONS.actionlint}`);
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-kms-key-gitops-"));
  });

  after(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it("actionlint passes the workflow", async () => {
    const lint = await actionlint(binary, WORKFLOW);
    expect(lint.code, lint.output).to.equal(0);
    expect(lint.output).to.equal("");
  });

  it("actionlint fails a broken copy (a job that needs a job that does not exist)", async () => {
    const text = fs.readFileSync(WORKFLOW, "utf8");
    const broken = text.replace(
      "    environment: kms-key-recovery\n",
      "    needs: approve\n    environment: kms-key-recovery\n",
    );
    expect(broken, "the copy differs").to.not.equal(text);
    const file = path.join(scratch, "broken.yml");
    fs.writeFileSync(file, broken);
    const lint = await actionlint(binary, file);
    expect(lint.code, lint.output).to.not.equal(0);
    expect(lint.output).to.match(/needs job "approve" which does not exist/);
  });

  it("runs check on a schedule and on pull requests into the job summary, recover behind an environment", () => {
    const text = fs.readFileSync(WORKFLOW, "utf8");
    for (const trigger of ["schedule:", "pull_request:", "workflow_dispatch:"]) expect(text).to.contain(`  ${trigger}`);
    const [check, recover] = text.split("\n  recover:\n");
    expect(check).to.contain("npx kms-key-drift check");
    expect(check).to.contain(`>> "$GITHUB_STEP_SUMMARY"`);
    expect(check).to.contain("if: github.event_name != 'workflow_dispatch'");
    expect(recover).to.contain("npx kms-key-drift recover");
    expect(recover).to.contain("if: github.event_name == 'workflow_dispatch'");
    expect(recover).to.match(/^ {4}environment: kms-key-recovery$/m);
  });
});
