"""The capacity planner: `rung plan` on an operator's machine, the plan function in AWS."""
