// The newest leg's Pulumi on the other Node.js LTS lines (otherNodeLines in versions.json): one example each, installed
// with engine-strict, up, recovered by up --refresh, destroyed; runs on its own too.
import { describeProjects } from "./projects";
import { NODE_LINE_LEGS } from "../../testing/versions";

for (const leg of NODE_LINE_LEGS) describeProjects(leg, { examples: ["drift-recovery"], quick: true });
