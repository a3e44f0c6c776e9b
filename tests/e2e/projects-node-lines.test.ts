// The newest leg's Pulumi on the other Node.js LTS lines (otherNodeLines in versions.json): one example each, the
// whole project-folder scenario; runs on its own too.
import { NODE_LINE_LEGS } from "../support/project";
import { describeProjects } from "./projects";

for (const leg of NODE_LINE_LEGS) describeProjects(leg, { examples: ["drift-recovery"], errors: false });
