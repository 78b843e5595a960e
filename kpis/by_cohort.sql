-- Cure rate, contacts and cost per cured account, per cohort (the week, from Monday, its ladders started).
SELECT
    CAST(cohort AS DATE) AS cohort,
    count(*) AS accounts,
    sum(cured) AS cured,
    CAST(sum(cured) AS DOUBLE) / NULLIF(count(*), 0) AS cure_rate,
    sum(contacts) AS contacts,
    sum(cost) AS cost,
    CAST(sum(cost) AS DOUBLE) / NULLIF(sum(cured), 0) AS cost_per_cured
FROM ladder_accounts
GROUP BY CAST(cohort AS DATE)
ORDER BY cohort
