// The examples as project folders in the newest leg (see LEGS in tests/support/project.ts); runs on its own too.
import { LEGS } from "../support/project";
import { describeProjects } from "./projects";

describeProjects(LEGS.newest);
