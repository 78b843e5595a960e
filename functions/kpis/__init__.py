"""The collections KPIs, shared by `rung kpis` and the console Lambda: the queries (`kpis/`),
their report, and the Athena runner."""
