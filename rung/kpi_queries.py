"""The KPI queries live in functions.kpis.queries (the console Lambda runs them too); this name
stays for rung.console_reports, which imports `load_kpi_config` from here."""

from functions.kpis.queries import load_kpi_config as load_kpi_config
