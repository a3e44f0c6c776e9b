// The examples as project folders in the oldest leg (legs.oldest in versions.json); runs on its own too.
import { describeProjects } from "./projects";
import { LEGS } from "../../testing/versions";

describeProjects(LEGS.oldest);
